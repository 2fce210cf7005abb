"""The admin app, with Sealdesk's admin site as the default one (contactcenter/admin_site.py)."""

from django.contrib.admin.apps import AdminConfig


class SealdeskAdminConfig(AdminConfig):
    default_site = "contactcenter.admin_site.AdminSite"
