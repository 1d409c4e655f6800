from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from events.selectors import event_list_for_owner, event_list_public
from events.serializers import EventCreateSerializer, EventSerializer, PublicEventSerializer
from events.services import event_create


class EventListCreateView(APIView):
    @extend_schema(responses={200: EventSerializer(many=True)})
    def get(self, request):
        events = event_list_for_owner(owner=request.user)
        return Response(EventSerializer(events, many=True).data)

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


class PublicEventListView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: PublicEventSerializer(many=True)})
    def get(self, request):
        return Response(PublicEventSerializer(event_list_public(), many=True).data)
