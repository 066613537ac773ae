"""``from consist.tools.tracker import Tracker``, the early README's path, still works."""

from consist.tracking import Tracker as Tracker
