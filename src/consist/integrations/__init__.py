"""Ways of running steps that are not Python functions (containers), wired onto the Tracker."""
