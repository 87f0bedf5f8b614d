"""Sites: monitored places."""

from __future__ import annotations

import re

import msgspec

from riskcast.exceptions import ValidationError

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Site(msgspec.Struct, kw_only=True):
    """A monitored place: weather station, intersection, water station, camera, cohort."""

    id: str
    name: str = ""
    pack: str = "generic"
    lat: float | None = None
    lon: float | None = None
    tags: dict[str, str] = {}

    def validate(self, known_packs: set[str] | None = None) -> Site:
        """Return self, or raise ValidationError naming the field at fault."""
        if not ID_PATTERN.match(self.id):
            raise ValidationError(
                f"id {self.id!r}: 1-64 letters, digits, '_' or '-'", field="id")
        if self.lat is not None and not -90.0 <= self.lat <= 90.0:
            raise ValidationError(f"lat {self.lat} is outside -90..90", field="lat")
        if self.lon is not None and not -180.0 <= self.lon <= 180.0:
            raise ValidationError(f"lon {self.lon} is outside -180..180", field="lon")
        if (self.lat is None) != (self.lon is None):
            raise ValidationError("give both lat and lon, or neither", field="lat")
        if known_packs is not None and self.pack not in known_packs:
            raise ValidationError(
                f"pack {self.pack!r} is not loaded (loaded: {', '.join(sorted(known_packs))})",
                field="pack")
        if len(self.name) > 200:
            raise ValidationError("name is longer than 200 characters", field="name")
        return self
