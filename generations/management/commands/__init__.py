"""clonegen's manage.py commands: export_generations, import_generations."""
