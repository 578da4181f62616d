"""Repository upkeep, outside the library: the generated tables of the README and docs/ (`docs.py`,
`tables.py`) and the rendered notebook pages (`render.py`)."""
