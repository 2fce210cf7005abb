"""Admin forms that create and edit an agent together with its login."""

from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import UsernameField
from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.db.models import Model
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from agents.models import Agent, CannedResponse, Team, Tenant

User = get_user_model()
M = TypeVar("M", bound=Model)


class TenantOwnedForm(forms.ModelForm[M]):
    """A form for a row of one tenant, which the admin fixes or a platform admin picks."""

    # Set by the admin to the row's tenant; None when a platform admin picks it in the form.
    fixed_tenant: Tenant | None = None

    def tenant_for_validation(self) -> Tenant | None:
        if self.fixed_tenant is not None:
            return self.fixed_tenant
        tenant = self.cleaned_data.get("tenant")
        return tenant if isinstance(tenant, Tenant) else None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.fixed_tenant is not None:
            # Whatever the request says, the row stays in (or goes to) the fixed tenant.
            setattr(self.instance, "tenant", self.fixed_tenant)  # noqa: B010 (M is any tenant row)
        return cleaned


class TeamForm(TenantOwnedForm[Team]):
    class Meta:
        model = Team
        fields = ["tenant", "name", "time_zone", "hours", "holidays"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        tenant = self.tenant_for_validation()
        name = cleaned.get("name")
        # The form may not show the tenant, so Django would skip the (tenant, name) constraint.
        if tenant:
            others = Team.objects.filter(tenant=tenant).exclude(pk=self.instance.pk)
            if name and others.filter(name=name).exists():
                self.add_error(
                    "name",
                    gettext("%(tenant)s already has a team named “%(name)s”.")
                    % {"tenant": tenant.name, "name": name},
                )
        return cleaned


class CannedResponseForm(TenantOwnedForm[CannedResponse]):
    class Meta:
        model = CannedResponse
        fields = ["tenant", "team", "shortcut", "title", "text"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        tenant = self.tenant_for_validation()
        team = cleaned.get("team")
        shortcut = cleaned.get("shortcut")
        if tenant is None:
            return cleaned
        if isinstance(team, Team) and team.tenant_id != tenant.pk:
            self.add_error("team", gettext("Not a team of %(tenant)s.") % {"tenant": tenant.name})
            return cleaned
        # The form may not show the tenant, so Django would skip the scope's constraint.
        same = CannedResponse.objects.filter(tenant=tenant, team=team, shortcut=shortcut)
        if shortcut and same.exclude(pk=self.instance.pk).exists():
            if isinstance(team, Team):
                taken = gettext("The %(team)s team already has a canned response “/%(shortcut)s”.")
                named = {"team": team.name, "shortcut": shortcut}
            else:
                taken = gettext("%(tenant)s already has a canned response “/%(shortcut)s”.")
                named = {"tenant": tenant.name, "shortcut": shortcut}
            self.add_error("shortcut", taken % named)
        return cleaned


class AgentForm(TenantOwnedForm[Agent]):
    """Fields shared by the add and change forms: the agent's login details and its teams."""

    email = forms.EmailField(required=False, help_text=_("Set-password links are emailed here."))
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        tenant = self.tenant_for_validation()
        teams: list[Team] = list(cleaned.get("teams") or [])
        if tenant is not None:
            foreign = [team.name for team in teams if team.tenant_id != tenant.pk]
            if foreign:
                self.add_error(
                    "teams",
                    gettext("Not teams of %(tenant)s: %(teams)s.")
                    % {"tenant": tenant.name, "teams": ", ".join(foreign)},
                )
        return cleaned

    def _fill_user(self, user: AbstractUser) -> None:
        user.email = self.cleaned_data.get("email", "")
        user.first_name = self.cleaned_data.get("first_name", "")
        user.last_name = self.cleaned_data.get("last_name", "")
        # Admin access follows the role and never reaches beyond the tenant (agents/admin.py).
        user.is_staff = self.instance.role == Agent.Role.TENANT_ADMIN or user.is_superuser


class AgentCreationForm(AgentForm):
    """Create an agent and its login, with a password or, left blank, a set-password link."""

    username = UsernameField(max_length=150, help_text=_("What the agent types to log in."))
    password1 = forms.CharField(
        label=_("Password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Leave both password fields empty to make a set-password link instead."),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = Agent
        fields = ["tenant", "display_name", "role", "teams", "max_concurrent_chats"]

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("A login with this username already exists."))
        return username

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        p1, p2 = cleaned.get("password1") or "", cleaned.get("password2") or ""
        if p1 != p2:
            self.add_error("password2", gettext("The two passwords differ."))
        elif p1:
            probe = User(
                username=cleaned.get("username", ""),
                email=cleaned.get("email", ""),
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
            )
            try:
                password_validation.validate_password(p1, probe)
            except forms.ValidationError as e:
                self.add_error("password1", e)
        return cleaned

    @property
    def needs_password_link(self) -> bool:
        return not self.cleaned_data.get("password1")

    def save(self, commit: bool = True) -> Agent:
        agent = super().save(commit=False)
        with transaction.atomic():
            user = User(username=self.cleaned_data["username"])
            self._fill_user(user)
            if self.cleaned_data.get("password1"):
                user.set_password(self.cleaned_data["password1"])
            else:
                user.set_unusable_password()
            user.save()
            agent.user = user
            if commit:
                agent.save()
                self.save_m2m()
        return agent


class AgentChangeForm(AgentForm):
    """Edit an agent and the login details of its user."""

    is_active = forms.BooleanField(
        label=_("Active"), required=False, help_text=_("Inactive agents cannot log in.")
    )

    class Meta:
        model = Agent
        fields = ["display_name", "role", "teams", "max_concurrent_chats"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        user = self.instance.user
        for name in ("email", "first_name", "last_name", "is_active"):
            self.fields[name].initial = getattr(user, name)

    def save(self, commit: bool = True) -> Agent:
        agent = super().save(commit=False)
        user = agent.user
        self._fill_user(user)
        user.is_active = self.cleaned_data.get("is_active", False)
        with transaction.atomic():
            user.save()
            if commit:
                agent.save()
                self.save_m2m()
        return agent


# A megabyte here is 1024 * 1024 bytes, as in the upload's refusal (chat/uploads.py).
MB = 1024 * 1024


def megabytes_field(label: StrOrPromise, most: int, help_text: StrOrPromise) -> forms.DecimalField:
    """Return a field for a size in MB, from 0.01 to MOST, that says plainly what is wrong."""
    at_most = format_lazy(_("Enter at most {most} MB."), most=most)
    return forms.DecimalField(
        label=format_lazy("{} (MB)", label),
        min_value=Decimal("0.01"),
        max_value=most,
        max_digits=9,
        decimal_places=2,
        help_text=help_text,
        error_messages={
            "required": _("Enter a size in MB, such as 100."),
            "invalid": _("Enter a size in MB as a number, such as 100 or 2.5."),
            "min_value": _("Enter at least %(limit_value)s MB."),
            "max_value": _("Enter at most %(limit_value)s MB."),
            "max_decimal_places": _("Enter at most 2 decimals, such as 2.5."),
            "max_digits": at_most,
            "max_whole_digits": at_most,
        },
    )


def in_megabytes(size: int) -> Decimal:
    """Return SIZE in bytes as MB to two decimals, without trailing zeros (100, 2.5)."""
    mb = (Decimal(size) / MB).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return mb.quantize(Decimal(1)) if mb == mb.to_integral_value() else mb.normalize()


class TenantForm(forms.ModelForm[Tenant]):
    """A tenant's settings, with its file limits in MB (the tenant stores bytes)."""

    max_file_mb = megabytes_field(
        _("Largest file"),
        10 * 1024,
        _("The largest file a customer or agent may send, up to 10240 MB (10 GB)."),
    )
    conversation_quota_mb = megabytes_field(
        _("Files per conversation"),
        100 * 1024,
        _("All files of one conversation together, up to 102400 MB (100 GB)."),
    )
    # Each field above and the byte count it sets.
    SIZES = {"max_file_mb": "max_file_bytes", "conversation_quota_mb": "conversation_quota_bytes"}
    # Kept as they are when a post leaves them out (a script's, a page from before they existed).
    KEPT_IF_MISSING = ["brand_color", "launcher_position"]

    class Meta:
        model = Tenant
        fields = [
            "name",
            "slug",
            "allowed_origins",
            "offer_timeout_seconds",
            "away_after_missed_offer",
            "is_active",
            "routing",
            "require_two_factor",
            "supervision",
            "park_resume_minutes",
            "park_expiry_hours",
            "message_after_minutes",
            "brand_color",
            "launcher_position",
        ]
        # The browser's colour picker gives "#rrggbb"; the model checks its contrast.
        widgets = {"brand_color": forms.TextInput(attrs={"type": "color"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field, size in self.SIZES.items():
            self.fields[field].initial = in_megabytes(getattr(self.instance, size))
        for field in self.KEPT_IF_MISSING:
            self.fields[field].required = False

    def clean_brand_color(self) -> str:
        return str(self.cleaned_data.get("brand_color") or self.instance.brand_color)

    def clean_launcher_position(self) -> str:
        return str(self.cleaned_data.get("launcher_position") or self.instance.launcher_position)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        sizes = {}
        for field, size in self.SIZES.items():
            mb = cleaned.get(field)
            if field in self.errors or mb is None:
                return cleaned
            # A size left as shown keeps its exact bytes, even where they are no whole MB.
            changed = field in self.changed_data
            sizes[size] = (
                int((mb * MB).to_integral_value()) if changed else getattr(self.instance, size)
            )
        if sizes["max_file_bytes"] > sizes["conversation_quota_bytes"]:
            self.add_error(
                "max_file_mb",
                gettext(
                    "The largest file cannot be larger than the files per conversation "
                    "(%(quota)s MB): such a file would be refused all the same."
                )
                % {"quota": in_megabytes(sizes["conversation_quota_bytes"])},
            )
            return cleaned
        for size, value in sizes.items():
            setattr(self.instance, size, value)
        return cleaned
