"""A tenant's look in the widget: its brand colour, checked for contrast with the white text the
widget writes on it (WCAG 2.2, 1.4.3: at least 4.5:1 for normal text)."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

DEFAULT_BRAND_COLOR = "#1f5fbf"
MIN_CONTRAST = 4.5
HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def relative_luminance(color: str) -> float:
    """Return the WCAG relative luminance of a "#rrggbb" colour, from 0 (black) to 1 (white)."""
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    red, green, blue = (
        c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels
    )
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: str, second: str) -> float:
    """Return the WCAG contrast ratio of two "#rrggbb" colours, from 1 to 21."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def validate_brand_color(value: str) -> None:
    """Refuse anything but "#rrggbb", and a colour white text on it would be hard to read on."""
    if not HEX_COLOR.match(value):
        raise ValidationError(
            _("“%(value)s” is not a colour such as #1f5fbf (a # and six hex digits)."),
            params={"value": value},
        )
    ratio = contrast_ratio(value, "#ffffff")
    if ratio < MIN_CONTRAST:
        raise ValidationError(
            _(
                "White text on %(value)s has a contrast ratio of %(ratio)s:1; the widget needs "
                "at least 4.5:1 to be readable. Choose a darker colour."
            ),
            params={"value": value, "ratio": f"{ratio:.2f}"},
        )
