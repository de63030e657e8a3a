// Every API address the page scripts call, in one place: `urls.next(projectId)` and so on.
// The server declares them in labeling/api/urls.py (and its router); keep the two in step.
export const urls = {
  // the labeling queue of a project
  next: (project) => `/api/projects/${project}/next/`,
  takeBreak: (project) => `/api/projects/${project}/break/`,
  frameState: (project, frame) => `/api/projects/${project}/frames/${frame}/state/`,
  report: (project, frame) => `/api/projects/${project}/frames/${frame}/report/`,
  // one assignment (a frame handed to one annotator)
  draft: (assignment) => `/api/assignments/${assignment}/draft/`,
  submit: (assignment) => `/api/assignments/${assignment}/submit/`,
  skip: (assignment) => `/api/assignments/${assignment}/skip/`,
  flag: (assignment) => `/api/assignments/${assignment}/flag/`,
  renew: (assignment) => `/api/assignments/${assignment}/renew/`,
  // a new revision of one's own submitted labels
  revise: () => "/api/annotations/revise/",
  // protection: reveals of sensitive frames, well-being check-ins
  reveal: (project, frame) => `/api/projects/${project}/frames/${frame}/reveal/`,
  endReveal: (reveal) => `/api/reveals/${reveal}/end/`,
  checkin: () => "/api/protection/checkin/",
  // one's own preferences (the thermal palette)
  me: () => "/api/protection/me/",
  // model incidents (labeling.governance.incidents)
  incidents: (project) => `/api/projects/${project}/incidents/`,
};
