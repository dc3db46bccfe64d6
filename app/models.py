"""Import every model module so metadata (and Alembic) sees every table."""

from app.core.audit import AuditEvent  # noqa: F401
from app.core.identifiers import IdentifierCounter  # noqa: F401
from app.core.jobs import DueJob, PeriodicJobState  # noqa: F401
from app.domain.administration import listeners as _mar  # noqa: F401  (doses follow prescribing, ADT)
from app.domain.administration.models import Administration, ScheduledDose  # noqa: F401
from app.domain.admissions.models import Encounter, EncounterLocation  # noqa: F401
from app.domain.dispensary.inventory_models import (  # noqa: F401
    ControlledDrugCheck,
    GoodsReceipt,
    GoodsReceiptLine,
    ReorderLevel,
    StockAlertRun,
    StockCount,
    StockCountLine,
    StockTransfer,
    StockTransferLine,
)
from app.domain.dispensary.models import (  # noqa: F401
    ControlledDrugEntry,
    Dispensing,
    DispensingLine,
    StockBatch,
    StockLocation,
    StockMovement,
)
from app.domain.escalation import listeners as _alerts  # noqa: F401  (alerts follow ADT)
from app.domain.escalation.models import Alert, OnCallShift  # noqa: F401
from app.domain.facilities.models import Bed, BedReservation, Room, Ward  # noqa: F401
from app.domain.formulary.models import Drug  # noqa: F401
from app.domain.frontdesk.models import QueueTicket  # noqa: F401
from app.domain.handover import access as _handover_access  # noqa: F401  (the handover scope rule)
from app.domain.handover.models import HandoverEntry, HandoverField, HandoverSession  # noqa: F401
from app.domain.identity.models import User, UserRole, UserSession, WardAssignment  # noqa: F401
from app.domain.notifications.models import Notification  # noqa: F401
from app.domain.nursing_notes.models import NursingNote  # noqa: F401
from app.domain.observations.models import Observation, VitalSigns  # noqa: F401
from app.domain.patients import access  # noqa: F401  (registers the patient scope rule)
from app.domain.patients.models import Allergy, BreakGlassGrant, Patient, PatientVersion  # noqa: F401
from app.domain.prescribing.models import Prescription, PrescriptionVersion, SafetyOverride  # noqa: F401
from app.domain.printing.models import PrintJob  # noqa: F401
from app.domain.registry.models import DuplicateCandidate, PatientMerge  # noqa: F401
from app.domain.reminders import listeners  # noqa: F401  (reminders follow scheduling's events)
from app.domain.reminders.models import Reminder, ReminderAttempt  # noqa: F401
from app.domain.scheduling.models import (  # noqa: F401
    Appointment,
    AppointmentType,
    Booking,
    Clinic,
    Resource,
)
from app.jobs import (
    beds,  # noqa: F401  (registers the bed reservation expiry handler)
    escalation,  # noqa: F401  (registers the alert escalation job handler)
    frontdesk,  # noqa: F401  (registers the reminder job handler)
    printing,  # noqa: F401  (registers the print job handler)
)
