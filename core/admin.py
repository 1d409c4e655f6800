class ReadOnlyAdminMixin:
    """For records that only the application writes (through its services): view, filter, search."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
