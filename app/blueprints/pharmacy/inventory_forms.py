"""Forms of the stock and controlled-drug pages (helper D)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from app.blueprints.pharmacy.witness import WitnessMixin
from app.core.web import day_in_range, optional_id
from app.domain.dispensary.adjustments import REASONS
from app.domain.dispensary.stock import MAX_STOCK_QUANTITY

RECEIPT_ROWS = 6


class ReceiptLineForm(Form):
    scan = StringField(_l("Scan pack"), validators=[Optional(), Length(max=200)])
    drug_id = SelectField(_l("Drug"), coerce=optional_id, choices=[], validate_choice=False)
    batch_number = StringField(_l("Batch"), validators=[Optional(), Length(max=40)])
    expiry = DateField(_l("Expiry"), validators=[Optional(), day_in_range])
    quantity = IntegerField(_l("Quantity"), validators=[Optional(), NumberRange(min=1, max=MAX_STOCK_QUANTITY)])
    unit_cost = DecimalField(_l("Unit cost"), places=4,
                             validators=[Optional(), NumberRange(min=0, max=99_999_999)])


class ReceiveGoodsForm(WitnessMixin, FlaskForm):
    supplier = StringField(_l("Supplier"), validators=[DataRequired(_l("Enter the supplier.")),
                                                       Length(max=120)])
    delivery_reference = StringField(_l("Delivery note"), validators=[
        DataRequired(_l("Enter the delivery note's reference.")), Length(max=60)])
    lines = FieldList(FormField(ReceiptLineForm), min_entries=RECEIPT_ROWS, max_entries=40)


class TransferForm(WitnessMixin, FlaskForm):
    drug_id = SelectField(_l("Drug"), coerce=optional_id, choices=[], validate_choice=False)
    ward_id = SelectField(_l("To ward"), coerce=optional_id, choices=[], validate_choice=False)
    quantity = IntegerField(_l("Quantity"), validators=[
        InputRequired(_l("Enter how many to send.")), NumberRange(min=1, max=MAX_STOCK_QUANTITY)])
    batch_id = SelectField(_l("Batch"), coerce=optional_id, choices=[], validate_choice=False)


class AdjustForm(WitnessMixin, FlaskForm):
    quantity = IntegerField(_l("Change (minus to remove)"), validators=[
        InputRequired(_l("Enter the change, e.g. -2.")), NumberRange(min=-MAX_STOCK_QUANTITY, max=MAX_STOCK_QUANTITY)])
    reason = SelectField(_l("Reason"), choices=[SelectChoice("", _l("Choose…"))]
                         + [SelectChoice(k, v) for k, v in REASONS.items()], validate_choice=False)
    note = TextAreaField(_l("Explanation"), validators=[Optional(), Length(max=500)])


class ReorderForm(FlaskForm):
    location_id = SelectField(_l("Location"), coerce=optional_id, choices=[], validate_choice=False)
    minimum = IntegerField(_l("Reorder below"), validators=[Optional(), NumberRange(min=1, max=MAX_STOCK_QUANTITY)])
    reorder_quantity = IntegerField(_l("Order quantity"),
                                    validators=[Optional(), NumberRange(min=1, max=MAX_STOCK_QUANTITY)])


class OpenCountForm(FlaskForm):
    location_id = SelectField(_l("Location"), coerce=optional_id, choices=[], validate_choice=False)
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])


class CloseCountForm(WitnessMixin, FlaskForm):
    reason = TextAreaField(_l("Reason for any difference"), validators=[Optional(), Length(max=500)])


class RegisterCheckForm(WitnessMixin, FlaskForm):
    reason = TextAreaField(_l("Reason for any difference"), validators=[Optional(), Length(max=500)])
