"""The support desk in the Django admin: records (merchants, orders), the case list and the case
desk with its action table, the desk's forms, and the complaint figures. The site itself, with
its sign-in lockout and second factor, is disputes.support_desk."""

from . import desk, records  # noqa: F401 - registers the ModelAdmins
