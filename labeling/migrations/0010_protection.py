"""Annotator protection: sensitivity flags, project policies, per-person state, exposure,
consent history and wellbeing check-ins. Flags and consent events are history: append-only in
the database; an exposure row may only be ended (its duration set), never deleted."""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        ('labeling', '0009_sampling_jobs'),
        ('ontology', '0002_immutability_triggers'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ConsentEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('given', models.BooleanField()),
                ('policy_version', models.CharField(max_length=40)),
                ('at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['-at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='Exposure',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('frame', 'Sensitive frame served (blurred)'), ('reveal', 'Original revealed')], max_length=8)),
                ('started_at', models.DateTimeField()),
                ('ended_at', models.DateTimeField(blank=True, null=True)),
                ('duration_s', models.FloatField(blank=True, help_text='Reveals: seconds the original was shown', null=True)),
            ],
        ),
        migrations.CreateModel(
            name='ProtectionPolicy',
            fields=[
                ('project', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='protection_policy', serialize=False, to='labeling.project')),
                ('blur_radius', models.FloatField(blank=True, help_text='Blur of sensitive previews in preview pixels (empty: AERIE_PREVIEW_BLUR_RADIUS)', null=True, validators=[django.core.validators.MinValueValidator(4.0), django.core.validators.MaxValueValidator(64.0)])),
                ('daily_sensitive_frames', models.PositiveIntegerField(default=200, help_text='Sensitive frames a person gets per day (their local day)')),
                ('daily_exposure_minutes', models.FloatField(default=60.0, help_text='Minutes of unblurred viewing per day', validators=[django.core.validators.MinValueValidator(0.0)])),
                ('max_sensitive_in_a_row', models.PositiveSmallIntegerField(default=3, help_text='At most this many sensitive frames in a row when a non-sensitive frame is available', validators=[django.core.validators.MinValueValidator(1)])),
                ('break_after_minutes', models.PositiveIntegerField(default=50, help_text='A break after this many minutes of continuous work (0: never)')),
                ('break_after_sensitive', models.PositiveIntegerField(default=40, help_text='A break after this many sensitive frames (0: never)')),
                ('break_minutes', models.PositiveIntegerField(default=10, validators=[django.core.validators.MinValueValidator(1)])),
                ('micro_break_minutes', models.PositiveIntegerField(default=20, help_text='A reminder to look away for a moment every this many minutes (0: never)')),
                ('model_threshold', models.FloatField(default=0.8, help_text='A model score for a sensitive class at or above this makes the frame sensitive', validators=[django.core.validators.MinValueValidator(0.0), django.core.validators.MaxValueValidator(1.0)])),
                ('wellbeing_min_group', models.PositiveSmallIntegerField(default=5, help_text='Leads see wellbeing averages only over at least this many people', validators=[django.core.validators.MinValueValidator(3)])),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.CreateModel(
            name='ProtectionState',
            fields=[
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='protection', serialize=False, to=settings.AUTH_USER_MODEL)),
                ('consent', models.BooleanField(default=False)),
                ('consent_version', models.CharField(blank=True, max_length=40)),
                ('consent_at', models.DateTimeField(blank=True, null=True)),
                ('greyscale', models.BooleanField(default=False, help_text='Show sensitive frames in greyscale')),
                ('timezone', models.CharField(blank=True, help_text="IANA name; empty: the server's TIME_ZONE", max_length=64)),
                ('streak', models.PositiveIntegerField(default=0, help_text='Sensitive frames in a row')),
                ('stretch_started_at', models.DateTimeField(blank=True, help_text='Start of the current work stretch', null=True)),
                ('last_active_at', models.DateTimeField(blank=True, null=True)),
                ('sensitive_since_break', models.PositiveIntegerField(default=0)),
                ('break_until', models.DateTimeField(blank=True, null=True)),
                ('break_reason', models.CharField(blank=True, max_length=200)),
                ('micro_reminded_at', models.DateTimeField(blank=True, null=True)),
                ('warned_at', models.DateTimeField(blank=True, help_text='Last content warning shown', null=True)),
                ('checkin_due', models.CharField(blank=True, help_text='start | after_break | empty', max_length=12)),
            ],
        ),
        migrations.CreateModel(
            name='SensitivityFlag',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('source', models.CharField(choices=[('uploader', 'Marked by the uploader'), ('annotation', 'Labeled with a sensitive class'), ('report', 'Reported by an annotator'), ('model', 'Scored sensitive by the model')], max_length=12)),
                ('first_index', models.PositiveIntegerField(blank=True, help_text="A range of the sequence's frames", null=True)),
                ('last_index', models.PositiveIntegerField(blank=True, null=True)),
                ('frames', models.PositiveIntegerField(default=0, help_text='Frames that became sensitive by this flag')),
                ('note', models.TextField(blank=True)),
                ('score', models.FloatField(blank=True, null=True)),
                ('at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['-at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='WellbeingCheckin',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('score', models.PositiveSmallIntegerField(validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(5)])),
                ('moment', models.CharField(choices=[('start', 'At the start'), ('after_break', 'After a break')], max_length=12)),
                ('at', models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.AddIndex(
            model_name='frame',
            index=models.Index(condition=models.Q(('sensitive', True)), fields=['sequence'], name='frame_sensitive_idx'),
        ),
        migrations.AddField(
            model_name='consentevent',
            name='user',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='exposure',
            name='frame',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='labeling.frame'),
        ),
        migrations.AddField(
            model_name='exposure',
            name='project',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='labeling.project'),
        ),
        migrations.AddField(
            model_name='exposure',
            name='user',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='sensitivityflag',
            name='actor',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='sensitivityflag',
            name='annotation',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='labeling.annotation'),
        ),
        migrations.AddField(
            model_name='sensitivityflag',
            name='dataset',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='labeling.dataset'),
        ),
        migrations.AddField(
            model_name='sensitivityflag',
            name='frame',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='labeling.frame'),
        ),
        migrations.AddField(
            model_name='sensitivityflag',
            name='label_class',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='ontology.labelclass'),
        ),
        migrations.AddField(
            model_name='sensitivityflag',
            name='model_version',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='labeling.modelversion'),
        ),
        migrations.AddField(
            model_name='sensitivityflag',
            name='project',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='labeling.project'),
        ),
        migrations.AddField(
            model_name='sensitivityflag',
            name='sequence',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='labeling.sequence'),
        ),
        migrations.AddField(
            model_name='wellbeingcheckin',
            name='project',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='labeling.project'),
        ),
        migrations.AddField(
            model_name='wellbeingcheckin',
            name='user',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddIndex(
            model_name='exposure',
            index=models.Index(fields=['user', 'started_at'], name='exposure_user_time_idx'),
        ),
        migrations.AddIndex(
            model_name='exposure',
            index=models.Index(fields=['project', 'started_at'], name='exposure_project_time_idx'),
        ),
        migrations.AddIndex(
            model_name='sensitivityflag',
            index=models.Index(condition=models.Q(('frame__isnull', False)), fields=['frame'], name='sensitivity_flag_frame_idx'),
        ),
        migrations.AddIndex(
            model_name='wellbeingcheckin',
            index=models.Index(fields=['project', 'at'], name='wellbeing_project_time_idx'),
        ),
        migrations.AddConstraint(
            model_name='wellbeingcheckin',
            constraint=models.CheckConstraint(condition=models.Q(('score__gte', 1), ('score__lte', 5)), name='wellbeing_score_range'),
        ),
        migrations.RunSQL(
            "".join(f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                    f"FOR EACH ROW EXECUTE FUNCTION aerie_append_only();\n"
                    for t in ("labeling_sensitivityflag", "labeling_consentevent"))
            + "CREATE TRIGGER labeling_exposure_append_only BEFORE DELETE ON labeling_exposure "
              "FOR EACH ROW EXECUTE FUNCTION aerie_append_only();\n",
            "".join(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t};\n"
                    for t in ("labeling_sensitivityflag", "labeling_consentevent", "labeling_exposure")),
        ),
    ]
