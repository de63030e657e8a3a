"""The mutation score of `make mutation`, from mutmut's results under mutants/.

    score = killed / all mutants mutmut made of the module

Every mutant that no test killed counts against the score: one that survived, one that no fast
test reaches at all ("no tests": untested code is what we want to find), one that timed out, or
one left unchecked. Code that only a database test can reach is kept out of mutation by
`# pragma: no mutate block` on its definition, so it makes no mutants. Prints

    BENCH mutation_score=<percent over every module>
    BENCH mutation_score_<module>=<percent>     (module: the file's name, e.g. agreement)

and, on stderr, each module's counts and the mutants not killed (`mutmut show NAME` shows one;
scripts/mutation_equivalents.md says which of them no test can kill, and why).
Exits 1 below --fail-under (a percent), 2 when there are no results to read.

Usage: python scripts/mutation_score.py [--fail-under 90]   (in the repository root)
"""
from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def status(exit_code) -> str:
    from mutmut.stats import status_by_exit_code  # mutmut's own reading of a mutant's exit code

    return status_by_exit_code[exit_code]


def modules(root: Path = ROOT) -> list[str]:
    """The mutated files, as [tool.mutmut] only_mutate names them."""
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["mutmut"]
    return list(config["only_mutate"])


def results(root: Path, path: str) -> dict[str, str]:
    """Mutant name -> status, for one mutated file."""
    meta = root / "mutants" / (path + ".meta")
    if not meta.exists():
        return {}
    exit_codes = json.loads(meta.read_text())["exit_code_by_key"]
    return {name: status(code) for name, code in exit_codes.items()}


def percent(killed: int, total: int) -> float:
    return 100.0 * killed / total if total else 100.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fail-under", type=float, default=None, help="exit 1 when the total score is below this")
    args = parser.parse_args(argv)

    lines, total = [], Counter()
    for path in modules():
        found = results(ROOT, path)
        if not found:
            print(f"no mutation results for {path}: run mutmut first", file=sys.stderr)
            return 2
        counts = Counter(found.values())
        total.update(counts)
        module = Path(path).stem
        killed, n = counts["killed"], sum(counts.values())
        lines.append(f"BENCH mutation_score_{module}={percent(killed, n):.1f}")
        others = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k != "killed")
        print(f"{path}: {n} mutants, {killed} killed" + (f", {others}" if others else ""), file=sys.stderr)
        for name, state in sorted(found.items()):
            if state != "killed":
                print(f"    {state}: {name}", file=sys.stderr)
    score = percent(total["killed"], sum(total.values()))
    print(f"all: {sum(total.values())} mutants, {total['killed']} killed", file=sys.stderr)
    sys.stderr.flush()
    print(f"BENCH mutation_score={score:.1f}")
    print("\n".join(lines), flush=True)
    if args.fail_under is not None and score < args.fail_under:
        print(f"mutation score {score:.1f} % is below {args.fail_under:g} %", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
