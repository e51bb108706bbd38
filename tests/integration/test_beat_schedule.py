"""The stack runs one beat (intake's Celery app); every task it schedules must exist on its queue."""
import dataclasses

from services import intake, notify, review


def test_every_scheduled_task_is_registered_by_a_service(settings):
    settings = dataclasses.replace(settings, broker_url="memory://")
    apps = {name: module.create_app(settings).extensions["celery"]
            for name, module in (("intake", intake), ("review", review), ("notify", notify))}
    schedule = apps["intake"].conf.beat_schedule
    assert {entry["task"] for entry in schedule.values()} == {"intake.sweep_stuck", "notify.retry_overdue",
                                                                   "review.reconcile", "notify.reconcile",
                                                                   "notify.send_digests", "intake.purge_drafts",
                                                                   "intake.retention", "intake.purge_orphans",
                                                                   "intake.purge_portal_links"}
    for entry in schedule.values():
        owner = apps[entry["task"].split(".")[0]]
        assert entry["task"] in owner.tasks
        assert entry["options"]["queue"] == owner.conf.task_default_queue
