from django.core.management.base import BaseCommand

from tutor.demo import demo_seed


class Command(BaseCommand):
    help = (
        "Create demo data: a staff user, two learners (alice, bob), two Spanish word lists, "
        "progress in different states and a few grades. Safe to run again: existing rows are kept."
    )

    def handle(self, *args, **options) -> None:
        logins = demo_seed()
        self.stdout.write(self.style.SUCCESS("Demo data is ready. Sign in with:"))
        for login in logins:
            self.stdout.write(f"  {login.role:8} {login.email:24} password: {login.password}")
