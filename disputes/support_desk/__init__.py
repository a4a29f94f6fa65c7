"""The support desk's admin site and its sign-in (lockout, second factor).

Kept outside `disputes.admin`: Django imports the site class while it builds `admin.site`, and
the admin package registers its ModelAdmins on `admin.site` as it is imported.
"""
