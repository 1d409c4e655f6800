from django.urls import path

from events import views

urlpatterns = [
    path("events/", views.EventListCreateView.as_view(), name="event-list"),
    path("events/<int:event_id>/", views.EventDetailView.as_view(), name="event-detail"),
    path("public/events/", views.PublicEventListView.as_view(), name="public-event-list"),
    path("public/events/<int:event_id>/", views.PublicEventDetailView.as_view(), name="public-event-detail"),
]
