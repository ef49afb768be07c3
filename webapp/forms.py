"""The trading forms. They check shape only; the services check every rule and say why."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from markets.selectors import OutcomeView


class MarketSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search")
    category = forms.CharField(required=False, max_length=50)
    status = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any status"),
            ("open", "Open"),
            ("closed", "Closed"),
            ("resolved", "Resolved"),
            ("cancelled", "Cancelled"),
            ("refunded", "Refunded"),
        ],
    )


def _outcome_field(outcomes: list[OutcomeView] | None) -> forms.TypedChoiceField:
    choices = [(o.index, o.label) for o in outcomes or []]
    return forms.TypedChoiceField(choices=choices, coerce=int, label="Answer")


class BuyForm(forms.Form):
    # Text, not a number field: points.services.parse_amount says what is wrong with it.
    amount = forms.CharField(max_length=40, label="Points to spend")

    def __init__(self, *args: object, outcomes: list[OutcomeView] | None = None, **kwargs: object):
        kwargs.setdefault("auto_id", "buy_%s")  # the buy and sell forms share a page
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields = {"outcome": _outcome_field(outcomes), **self.fields}


class BuyConfirmForm(BuyForm):
    min_shares = forms.DecimalField(
        max_digits=36, decimal_places=6, min_value=Decimal(0), widget=forms.HiddenInput
    )
    token = forms.CharField(max_length=500, widget=forms.HiddenInput)


class SellForm(forms.Form):
    shares = forms.CharField(
        max_length=40, label="Shares to sell", help_text='A number, or "all"', initial="all"
    )

    def __init__(self, *args: object, outcomes: list[OutcomeView] | None = None, **kwargs: object):
        kwargs.setdefault("auto_id", "sell_%s")
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields = {"outcome": _outcome_field(outcomes), **self.fields}


class SellConfirmForm(SellForm):
    min_points = forms.IntegerField(min_value=0, max_value=10**18, widget=forms.HiddenInput)
    token = forms.CharField(max_length=500, widget=forms.HiddenInput)
