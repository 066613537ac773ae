"""Old module paths kept so examples written for them still import (see ``tracker``)."""
