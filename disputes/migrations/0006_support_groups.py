"""Staff groups of the support desk: support agent, support lead, read only."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

READ = [
    ("disputes", "view_dispute"),
    ("disputes", "view_disputeevent"),
    ("disputes", "view_attachment"),
    ("disputes", "view_order"),
    ("disputes", "view_merchant"),
    ("billing", "view_feeline"),
    ("notifications", "view_outboxmessage"),
]
AGENT = [*READ, ("disputes", "decide_dispute")]
LEAD = [
    *AGENT,
    ("disputes", "assign_dispute"),
    ("disputes", "decide_appeal"),
    ("notifications", "change_outboxmessage"),  # "send again"
]
GROUPS = {"support agent": AGENT, "support lead": LEAD, "read only": READ}


def create_groups(apps, schema_editor):
    # Permissions are normally made after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        previous = getattr(app_config, "models_module", None)
        app_config.models_module = previous or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = previous
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        permissions = [
            Permission.objects.get(content_type__app_label=app, codename=codename)
            for app, codename in codenames
        ]
        group.permissions.set(permissions)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("disputes", "0005_support_desk"),
        ("billing", "0001_initial"),
        ("notifications", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
