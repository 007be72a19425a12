"""python -m tests.django_project.standalone -s tests.django_project.settings [-f N]"""

from __future__ import annotations

from pysoa.server.standalone import django_main


def main() -> None:
    def get_server_class() -> type:
        # Imported after django.setup(): the server module imports models.
        from tests.django_project.server import NotesServer

        return NotesServer

    django_main(get_server_class)


if __name__ == "__main__":
    main()
