"""Programme forms and the code that compiles XLSForms to ODK XForms and reads their structure.

Pure Python: nothing here imports Flask or SQLAlchemy (a test says so), so the sync core and the
command line can use it without a server.
"""

from forms.compile import CompiledForm, compile_form
from forms.entity_declarations import EntityDeclaration
from forms.errors import FormError
from forms.filetype import detect_file_type
from forms.structure import Choice, Field, FormStructure, Language, MediaFile, read_structure

__all__ = [
    "Choice",
    "CompiledForm",
    "EntityDeclaration",
    "Field",
    "FormError",
    "FormStructure",
    "Language",
    "MediaFile",
    "compile_form",
    "detect_file_type",
    "read_structure",
]
