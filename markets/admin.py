"""Admin for moderators: markets with live probabilities, and actions that call the services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from markets.corrections import correction_deadline, history_sentence
from markets.descriptions import market_description_edit
from markets.models import DescriptionVersion, Market, MarketStatus, Outcome, ResolutionVote
from markets.resolvers import who_may_resolve
from markets.selectors import market_detail
from markets.services import market_cancel, market_close, market_create, resolution_vote
from markets.validation import clean_market_input
from markets.voters import discord_voter, staff_identity_sentence, staff_voter, voter_describe
from points.models import Member
from predictmarket.admin_actions import admin_actor, form_action
from predictmarket.console.scoping import GuildScopedAdmin, GuildScopedInline
from predictmarket.errors import DomainError, ValidationFailed


class OutcomeInline(GuildScopedInline, admin.TabularInline):
    model = Outcome
    fields = ["index", "label", "pool", "probability"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description="probability")
    def probability(self, outcome: Outcome) -> str:
        detail = market_detail(outcome.market)
        return f"{detail.outcomes[outcome.index].probability:.1%}"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class VoteInline(GuildScopedInline, admin.TabularInline):
    model = ResolutionVote
    fields = ["round", "cast_as", "outcome", "updated_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "resolution vote (one per person)"
    verbose_name_plural = (
        "resolution votes (one per person and round, whichever way it was cast; round 0 "
        "decided the market, round N its N-th correction)"
    )

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        # The names to show, looked up once for the page rather than once per vote.
        self._names = _voter_names(obj) if obj is not None else {}
        return super().get_formset(request, obj, **kwargs)

    @admin.display(description="cast as")
    def cast_as(self, vote: ResolutionVote) -> str:
        return voter_describe(vote.voter, names=getattr(self, "_names", {}))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DescriptionVersionInline(GuildScopedInline, admin.TabularInline):
    """Every version of the description, oldest first (empty when never edited).

    Scoped with its market: a moderator sees it, read-only, on their guilds' markets.
    """

    model = DescriptionVersion
    fields = ["number", "text", "edited_by", "edited_by_name", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "description version"
    verbose_name_plural = "description history (edited: every version is kept)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _voter_names(market: Market) -> dict[str, str]:
    """Display names for a market's voters: the guild's members and the staff users."""
    voters = list(market.votes.values_list("voter", flat=True))
    discord_ids = [int(v.partition(":")[2]) for v in voters if v.startswith("discord:")]
    user_ids = [int(v.partition(":")[2]) for v in voters if v.startswith("user:")]
    names = {
        discord_voter(discord_id): name
        for discord_id, name in Member.objects.filter(
            guild_id=market.guild_id, discord_id__in=discord_ids
        ).values_list("discord_id", "display_name")
    }
    users = get_user_model().objects.filter(pk__in=user_ids)
    names.update({f"user:{user.pk}": user.get_username() for user in users})
    return names


class MarketCreateForm(forms.ModelForm):
    """What a moderator fills in to open a market; ``market_create`` does the rest."""

    creator = forms.ModelChoiceField(
        queryset=Member.objects.select_related("guild").order_by("guild", "display_name"),
        help_text="The member shown as the market's creator (their server is the market's).",
    )
    options = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="2 to 10 answers, one per line.",
    )
    duration_hours = forms.DecimalField(
        min_value=0,
        max_digits=6,
        decimal_places=2,
        initial=24,
        help_text="How long betting stays open (1 minute to 30 days).",
    )
    arbitrator = forms.ModelChoiceField(
        queryset=Member.objects.select_related("guild").order_by("guild", "display_name"),
        required=False,
        help_text="Who resolves it, when the server's rule for this kind of market (two "
        "answers, or three and more) is an arbitrator; a member of the creator's server.",
    )

    class Meta:
        model = Market
        fields = ["question", "description", "category"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        hours = data.get("duration_hours")
        if hours is not None and "options" in data and "question" in data:
            try:
                clean_market_input(
                    question=data["question"],
                    options=data["options"].splitlines(),
                    duration=timedelta(hours=float(hours)),
                    category=data.get("category", ""),
                    description=data.get("description", ""),
                )
            except ValidationFailed as exc:
                field = exc.details.get("field")
                field = {"duration": "duration_hours"}.get(field, field)
                self.add_error(field if field in self.fields else None, exc.message)
        return data


def _close(request: HttpRequest, market: Model, data: dict[str, Any]) -> str:
    market_close(market_id=market.pk, actor=admin_actor(request))
    return "closed; betting has stopped"


def _cancel(request: HttpRequest, market: Model, data: dict[str, Any]) -> str:
    market_cancel(market_id=market.pk, actor=admin_actor(request), is_moderator=True)
    return "cancelled; all trades on it are being unwound (losses returned, gains given back)"


class DescriptionForm(forms.Form):
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        max_length=2000,
        help_text="The clarified description. Every earlier version is kept and shown; the "
        "question and answers never change once anyone has traded (nor here at all).",
    )


def _describe(request: HttpRequest, market: Model, data: dict[str, Any]) -> str:
    market_description_edit(
        market_id=market.pk,
        description=data["description"],
        actor=admin_actor(request),
        actor_name=request.user.get_username(),
        is_moderator=True,
    )
    return "description updated; the earlier version is kept in its history"


def _vote_form(queryset: QuerySet, request: HttpRequest) -> type[forms.Form]:
    markets = list(queryset[:2])
    choices: list[tuple[str, str]] = [
        ("cancel", "Cancel the market: unwind all trades on it (losses back, gains given back)")
    ]
    if len(markets) == 1:
        choices = [
            (str(o.index), f"{o.label}") for o in markets[0].outcomes.order_by("index")
        ] + choices

    class VoteForm(forms.Form):
        choice = forms.ChoiceField(
            choices=choices,
            widget=forms.RadioSelect,
            help_text=f"{staff_identity_sentence(request.user)} The market resolves when "
            "as many moderators agree as the market itself asks for (its resolution votes, "
            "fixed when it was created; one vote per person). Select a single market to vote "
            "for an outcome.",
        )

    return VoteForm


def _vote(
    request: HttpRequest, market: Model, data: dict[str, Any], *, correct: bool = False
) -> str:
    cancel = data["choice"] == "cancel"
    voter = staff_voter(request.user)
    result = resolution_vote(
        market_id=market.pk,
        voter=voter,
        actor=admin_actor(request),
        outcome_index=None if cancel else int(data["choice"]),
        cancel=cancel,
        cast_by_user_id=request.user.pk,
        correct=correct,
    )
    names = {voter: request.user.get_username()} if voter.startswith("user:") else {}
    what = "correction vote" if correct else "vote"
    recorded = f"{what} for {result.choice!r} recorded as {voter_describe(voter, names=names)}"
    if result.decided and correct:
        return f"{recorded}; the market is corrected: the earlier result is reversed and paid anew"
    if result.decided:
        return f"{recorded}; the market is decided and is being settled"
    return f"{recorded} ({result.votes_for_choice} of {result.votes_needed} needed)"


def _correct(request: HttpRequest, market: Model, data: dict[str, Any]) -> str:
    return _vote(request, market, data, correct=True)


def _correction_form(queryset: QuerySet, request: HttpRequest) -> type[forms.Form]:
    vote_form = _vote_form(queryset, request)

    class CorrectionForm(vote_form):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.fields["choice"].help_text = (
                "Correct a resolved, cancelled or refunded market to the right answer, or to "
                "cancel, within its correction window (counted from its first decision). As "
                "many moderators must agree as to resolve it; the earlier payouts or refunds "
                "are then reversed, as far as each member's balance holds, and the new result "
                "is paid. " + staff_identity_sentence(request.user)
            )

    return CorrectionForm


@admin.register(Market)
class MarketAdmin(GuildScopedAdmin):
    """Markets; a moderator creates and runs their own guilds' (the creator is one of theirs)."""

    guild_lookup = "guild_id"
    moderator_permissions = frozenset({"view", "change", "add"})
    list_display = [
        "id",
        "question",
        "guild",
        "status",
        "category",
        "closes_at",
        "volume",
        "min_resolution_votes",
        "auto_refund_hours",
        "resolver_rule",
        "probabilities",
    ]
    list_filter = ["status", "category", "guild"]
    search_fields = ["question", "description", "category", "=id"]
    list_select_related = ["guild"]
    date_hierarchy = "created_at"
    inlines = [OutcomeInline, VoteInline, DescriptionVersionInline]
    actions = [
        form_action(
            name="close_now",
            description="Close now (stop betting)",
            form_class=forms.Form,
            perform=_close,
            submit_label="Close",
        ),
        form_action(
            name="vote_resolution",
            description="Vote / resolve as…",
            form_class=_vote_form,
            perform=_vote,
            submit_label="Vote",
        ),
        form_action(
            name="vote_correction",
            description="Vote to correct the result as…",
            form_class=_correction_form,
            perform=_correct,
            submit_label="Vote to correct",
        ),
        form_action(
            name="edit_description",
            description="Clarify the description (kept with its history)",
            form_class=DescriptionForm,
            perform=_describe,
            submit_label="Save the new description",
        ),
        form_action(
            name="cancel_and_refund",
            description="Cancel and unwind",
            form_class=forms.Form,
            perform=_cancel,
            submit_label="Cancel and unwind all trades",
        ),
    ]

    @admin.display(description="history")
    def result_history(self, market: Market) -> str:
        """ "resolved Yes, corrected to resolved No by alice and bob" (empty until decided)."""
        text = history_sentence(market)
        deadline = correction_deadline(market)
        if deadline is not None:
            text += f" (correctable until {deadline:%Y-%m-%d %H:%M} UTC)"
        return text or "—"

    @admin.display(description="probabilities")
    def probabilities(self, market: Market) -> str:
        detail = market_detail(market)
        return " · ".join(f"{o.label}: {o.probability:.0%}" for o in detail.outcomes)

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = MarketCreateForm
            kwargs["fields"] = None
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return [
                (
                    None,
                    {
                        "fields": [
                            "creator",
                            "question",
                            "options",
                            "duration_hours",
                            "category",
                            "description",
                            "arbitrator",
                        ]
                    },
                )
            ]
        return super().get_fieldsets(request, obj)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> Any:
        # The chart and the holders are read after the scoped lookup: another guild's
        # market is a 404 before anything of it is read.
        market = self.get_object(request, object_id)
        if market is not None:
            from betting.admin_market_page import market_admin_chart, market_holders

            extra_context = {
                **(extra_context or {}),
                "chart": market_admin_chart(market),
                "holders": market_holders(market),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        return self.inlines if obj is not None else []

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return []
        # Markets change only through the lifecycle actions (services), never by editing:
        # the question and answers never, the description with "Clarify the description".
        return [
            *(f.name for f in Market._meta.fields),
            "who_resolves",
            "description_edited",
            "result_history",
        ]

    @admin.display(description="who may resolve")
    def who_resolves(self, market: Market) -> str:
        rule = market.get_resolver_rule_display()
        return f"{who_may_resolve(market)} — rule: {rule} (a holder needs a moderator to agree)"

    @admin.display(description="description", boolean=False)
    def description_edited(self, market: Market) -> str:
        versions = market.description_versions.count()
        return f"edited ({versions} versions, below)" if versions else "as created"

    def save_model(self, request: HttpRequest, obj: Market, form: Any, change: bool) -> None:
        if change:
            return
        data = form.cleaned_data
        try:
            created = market_create(
                creator=data["creator"],
                question=data["question"],
                options=data["options"].splitlines(),
                duration=timedelta(hours=float(data["duration_hours"])),
                category=data.get("category", ""),
                description=data.get("description", ""),
                arbitrator=data.get("arbitrator"),
                actor=admin_actor(request),
                bypass_rate_limit=True,
            )
        except DomainError as exc:
            # Shown on the redirect; nothing was written.
            messages.error(request, exc.message)
            raise _CreateRefused from exc
        obj.pk = obj.id = created.pk
        obj._state.adding = False

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> Any:
        try:
            return super().add_view(request, form_url, extra_context)
        except _CreateRefused:
            from django.shortcuts import redirect

            return redirect(request.path)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class _CreateRefused(Exception):
    """market_create refused the form (its message is already shown): back to the add page."""


__all__ = ["MarketAdmin", "MarketStatus"]
