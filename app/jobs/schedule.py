"""Every periodic job, in one table. The scheduler (or the embedded runner) reads only this."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Periodic:
    name: str
    func: str  # import path of fn(session) -> str | None (None: ok; text: what went wrong)
    every: timedelta | None = None
    daily_at: time | None = None  # hospital local time
    queue: str = "default"
    # Run in the scheduler's own process instead of on a queue (the dispatcher itself).
    in_scheduler: bool = False
    description: str = ""

    def next_after(self, moment: datetime, tz: str) -> datetime:
        if self.every is not None:
            return moment + self.every
        assert self.daily_at is not None
        local = moment.astimezone(ZoneInfo(tz))
        candidate = datetime.combine(local.date(), self.daily_at, ZoneInfo(tz))
        if candidate <= local:
            candidate = datetime.combine(local.date() + timedelta(days=1), self.daily_at, ZoneInfo(tz))
        return candidate.astimezone(moment.tzinfo)


PERIODIC: tuple[Periodic, ...] = (
    Periodic("dispatch-due", "app.jobs.runner.dispatch_due_rows", every=timedelta(seconds=1),
             in_scheduler=True, description="Claim due rows and enqueue one job per row"),
    Periodic("sweep-stale-jobs", "app.jobs.runner.sweep_stale_rows", every=timedelta(minutes=1),
             in_scheduler=True, description="Re-dispatch rows whose job was lost"),
    Periodic("purge-print-jobs", "app.jobs.printing.purge_print_jobs", every=timedelta(hours=1),
             queue="pdf", description="Delete finished print jobs past their retention"),
    Periodic("audit-verify", "app.jobs.audit_checks.verify_audit_trail", daily_at=time(2, 0),
             description="Verify the audit trail's hash chain; alert admins and auditors if broken"),
    Periodic("duplicate-scan", "app.jobs.registry.scan_for_duplicates", daily_at=time(1, 30),
             description="Check yesterday's registrations and edits for likely duplicate records"),
    Periodic("mark-no-shows", "app.jobs.frontdesk.mark_no_shows", every=timedelta(minutes=5),
             description="Mark appointments not checked in NO_SHOW_AFTER_MINUTES after their start"),
    Periodic("complete-prescriptions", "app.jobs.prescribing.complete_finished_prescriptions",
             every=timedelta(minutes=15),
             description="Mark prescriptions whose course has ended as completed"),
    Periodic("pharmacy-stock-check", "app.jobs.pharmacy.check_stock", daily_at=time(6, 0),
             description="Tell the pharmacy of drugs below their reorder level and batches "
                         "expiring within PHARMACY_EXPIRY_WARNING_DAYS (once a day)"),
    Periodic("observations-overdue", "app.jobs.observations.raise_overdue_observations",
             every=timedelta(minutes=1),
             description="Alert the responsible nurse when a patient's next vital signs are overdue"),
    Periodic("dose-plan", "app.jobs.medication_round.extend_dose_plan", daily_at=time(0, 30),
             description="Plan verified inpatient prescriptions' doses DOSE_PLAN_DAYS ahead"),
    Periodic("dose-reminders", "app.jobs.medication_round.sweep_doses", every=timedelta(minutes=1),
             description="Remind nurses of doses falling due; alert doses open past "
                         "DOSE_OVERDUE_MINUTES"),
)

BY_NAME = {p.name: p for p in PERIODIC}
