"""hospfab: print validated hospital spare parts safely, at fleet scale.

The library core lives in the subpackages (``mesh``, ``profiles``, ``slicing``, ``gcode``, ``catalog``,
``octoprint``, ``fleet``, ``journal``, ``queue``); ``hospfab.cli`` is a thin typer front end over them.
Importing this package is cheap: no numpy, trimesh or typer is loaded here.
"""

__version__ = "0.1.0"
