from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from core.pagination import Cursor, Pages
from events.selectors import event_get_public, event_list_for_owner, event_list_public
from events.serializers import EventCreateSerializer, EventSerializer, PublicEventSerializer
from events.services import event_create


class EventListCreateView(generics.ListAPIView):
    """The caller's events, newest first; POST creates one (a draft until its fee is paid)."""

    serializer_class = EventSerializer
    pagination_class = Pages
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "event_create"

    def get_throttles(self):
        # Creation has a budget per organiser (each event can open a checkout); reading does not.
        return super().get_throttles() if self.request.method == "POST" else []

    def get_queryset(self):
        return event_list_for_owner(owner=self.request.user)

    @extend_schema(request=EventCreateSerializer, responses={201: EventSerializer})
    def post(self, request):
        serializer = EventCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = event_create(owner=request.user, **serializer.validated_data)
        return Response(EventSerializer(event).data, status=status.HTTP_201_CREATED)


class EventDetailView(APIView):
    @extend_schema(responses={200: EventSerializer})
    def get(self, request, event_id: int):
        # Another user's event is answered 404, never 403.
        event = get_object_or_404(event_list_for_owner(owner=request.user), pk=event_id)
        return Response(EventSerializer(event).data)


class StartTimeCursor(Cursor):
    ordering = ("starts_at", "id")


class PublicEventListView(generics.ListAPIView):
    """Live, upcoming events in start order, for anyone."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    serializer_class = PublicEventSerializer
    pagination_class = StartTimeCursor

    def get_queryset(self):
        return event_list_public()


class PublicEventDetailView(APIView):
    """One event's shareable page: 404 for an event that never went live, except to its owner."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: PublicEventSerializer})
    def get(self, request, event_id: int):
        event = event_get_public(event_id=event_id, viewer=request.user)
        if event is None:
            raise Http404
        return Response(PublicEventSerializer(event).data)
