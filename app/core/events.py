"""Signals the domain sends when something happened. Listeners (live pushes, billing, HL7) hook
in here so that clinical modules never import them. Receivers get the session as sender and
must defer anything that leaves the transaction through after_commit."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# Admission, transfer, discharge (ADT; HL7 A01/A02/A03 and their cancels A11/A12/A13; billing).
# Every one has kwargs encounter_id, patient_id, ward_id, bed_id (where the patient is after
# the step; None after a discharge or a cancelled admission).
# `transferred` also has from_ward_id,
# from_bed_id; `discharged` also has from_ward_id, from_bed_id; each cancel has `reason`.
admitted = _signals.signal("admitted")
transferred = _signals.signal("transferred")
discharged = _signals.signal("discharged")
admission_cancelled = _signals.signal("admission_cancelled")
transfer_cancelled = _signals.signal("transfer_cancelled")
discharge_cancelled = _signals.signal("discharge_cancelled")
# A bed's state or occupant changed (kwargs ward_id, bed_id): the live bed board re-fetches it.
bed_changed = _signals.signal("bed_changed")
# A set of vital signs was recorded (kwargs vital_signs_id, patient_id, encounter_id, ward_id,
# news2_total (None when incomplete), news2_band).
vitals_recorded = _signals.signal("vitals_recorded")
# A dose's outcome was recorded (kwargs administration_id, prescription_id, patient_id,
# encounter_id, drug_id, outcome, scheduled_dose_id (None for PRN)). Billing charges consumables
# from `given`.
administered = _signals.signal("administered")
# A dose's record was marked entered in error (kwargs administration_id, prescription_id,
# patient_id, encounter_id, drug_id, outcome: the outcome the record had). Billing reverses a
# charged `given` from it; the bed board re-fetches the patient's bed.
administration_voided = _signals.signal("administration_voided")
# A stay's planned doses changed without anyone recording one (a prescription verified,
# changed or stopped; a discharge or its cancel): kwargs encounter_id.
doses_replanned = _signals.signal("doses_replanned")

# Scheduling. Keyword `appointment_id`. A reschedule sends only `appointment_rescheduled`
# (appointment_id = the new appointment, previous_id = the one it replaced, now cancelled);
# it does not also send booked/cancelled.
appointment_booked = _signals.signal("appointment_booked")
appointment_rescheduled = _signals.signal("appointment_rescheduled")
appointment_cancelled = _signals.signal("appointment_cancelled")  # also `reason`
# A patient arrived for a clinic (an appointment or a walk-in): kwargs ticket_id, patient_id,
# clinic_id, appointment_id (None for a walk-in). Billing charges the consultation from it.
checked_in = _signals.signal("checked_in")
# Two patient records became one (kwargs merge_id, survivor_id, retired_id): the HL7 interface
# sends it as ADT^A40. The patient_merge row is the durable event; this signal is the nudge.
patients_merged = _signals.signal("patients_merged")
# A merge was undone (kwargs merge_id, survivor_id, retired_id).
patients_unmerged = _signals.signal("patients_unmerged")

# Pharmacy. A prescription changed state (kwargs prescription_id, patient_id, action: one of
# prescribed|amended|verified|queried|rejected|held|resumed|stopped|completed|cancelled). The ward's
# medication record schedules doses from `verified` inpatient prescriptions.
prescription_changed = _signals.signal("prescription_changed")
# Medicine left the shelf for a patient (kwargs dispensing_id, prescription_id, patient_id,
# drug_id, quantity, encounter_id). Billing charges from it.
dispensed = _signals.signal("dispensed")
# Dispensed medicine came back to stock (kwargs dispensing_id, return_id, patient_id, drug_id,
# quantity). Billing reverses the charge for it.
dispense_returned = _signals.signal("dispense_returned")
