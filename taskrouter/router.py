"""Twilio TaskRouter as a tenant's router: new chats become Tasks, Reservations become offers.

Twilio learns routing attributes only (tenant, team, channel, language, conversation id): never
pre-chat answers, names or messages, which it could not read anyway (they are end-to-end
encrypted). The flow, with the README's "Twilio TaskRouter" section for the workspace set-up:

1. A queued conversation gets a Task (api.create_task).
2. TaskRouter reserves a Worker and calls the assignment callback (callbacks.py); the Worker's
   agent gets an offer on the dashboard (offer_reservation) and Twilio gets `{}` at once.
3. The agent accepts or declines, or the offer times out: the Reservation is accepted or rejected
   through the API. Closing the conversation completes its Task (or cancels it, if no agent had
   taken it).
4. The event callback keeps the rest consistent: Reservations that Twilio ends withdraw their
   offers (end_reservation), a canceled Task closes its waiting conversation (close_unrouted),
   and Activity changes made in Twilio set the agent's presence; presence set in the dashboard
   goes the other way, unless the Worker's Activity has that presence already.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agents.models import Agent, Team, Tenant
from chat.actions import lifecycle, offers
from chat.actions.events import lock_conversation
from chat.errors import ChatError
from chat.models import Conversation, Offer
from taskrouter import api
from taskrouter.models import Reservation, Task, Worker, Workspace

log = logging.getLogger("sealdesk.twilio")

TASK_RETRY_AFTER = timedelta(seconds=60)
TASK_GIVE_UP_AFTER = timedelta(minutes=10)  # a chat whose Task could not be made by then closes


def request_task(conversation: Conversation) -> bool:
    """Ask for the conversation's Task unless it has one or one was asked for lately."""
    now = timezone.now()
    Task.objects.get_or_create(conversation_id=conversation.pk)
    claimed = (
        Task.objects.filter(
            conversation_id=conversation.pk,
            conversation__state=Conversation.State.QUEUED,
            sid="",
        )
        .filter(Q(requested_at__isnull=True) | Q(requested_at__lt=now - TASK_RETRY_AFTER))
        .update(requested_at=now)
    )
    if claimed:
        api.call_later(
            f"create the Task of {conversation.pk}",
            conversation.pk,
            api.create_task,
            conversation.pk,
        )
    return bool(claimed)


class TaskRouterRouter:
    """The Router of a tenant in Twilio TaskRouter mode (chat.router.Router)."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    @property
    def space(self) -> Workspace:
        """Return the tenant's Workspace."""
        return self.tenant.twilio_workspace

    def conversation_queued(self, conversation: Conversation) -> None:
        request_task(conversation)

    def offer_accepted(self, offer: Offer) -> None:
        self.answer_offer(offer, "accepted")

    def offer_finished(self, offer: Offer) -> None:
        if offer.state in (Offer.State.DECLINED, Offer.State.EXPIRED):
            self.answer_offer(offer, "rejected")

    def answer_offer(self, offer: Offer, status: str) -> None:
        """Accept or reject the Reservation that OFFER stands for, if it stands for one."""
        reservation = Reservation.objects.filter(offer=offer).first()
        if reservation is None:
            return
        # On the Worker's lane: an Activity change must not overtake the answer.
        api.call_later(
            f"{status} Reservation {reservation.sid}",
            Worker.sid_of(offer.agent),
            api.answer_reservation,
            self.space,
            Task.sid_of(offer.conversation),
            reservation.sid,
            status,
        )

    def agent_changed(self, agent: Agent) -> None:
        """Set the Worker's Activity to the agent's presence, unless Twilio has it already: the
        change came from Twilio (callbacks.py records it), or repeats the last one sent."""
        worker = Worker.objects.filter(agent=agent).exclude(sid="").first()
        if worker is None:
            return
        presence = agent.presence
        # Compare and record in one statement: of two changes at once, each is sent once.
        sending = Worker.objects.filter(pk=worker.pk).exclude(presence=presence)
        if not sending.update(presence=presence):
            return

        def forget() -> None:  # it never reached Twilio: the next change must be sent
            Worker.objects.filter(pk=worker.pk, presence=presence).update(presence="")

        api.call_later(
            f"set the Activity of Worker {worker.sid}",
            worker.sid,
            api.set_activity,
            self.space,
            worker.sid,
            presence,
            on_failure=forget,
        )

    def conversation_closed(self, conversation: Conversation) -> None:
        task = Task.sid_of(conversation)
        if not task:
            return  # create_task cancels a Task that comes after the close
        if not conversation.accepted_at and (
            conversation.disposition == Conversation.Disposition.UNROUTED
        ):
            return  # closed by this router: Twilio ended its Task, or none could be made
        key: object = conversation.pk
        if conversation.accepted_at:
            status, reason = "completed", "The chat was closed"
            agents = conversation.current_agents()
            if agents and (worker := Worker.sid_of(agents[0])):
                key = worker  # after the acceptance, on the Worker's lane
        else:
            status, reason = "canceled", "The customer left before an agent took the chat"
        api.call_later(
            f"{status} Task {task}", key, api.finish_task, self.space, task, status, reason
        )

    def conversation_requeued(self, conversation: Conversation, by: Agent | None) -> None:
        """A transfer to a queue, or a parked chat resuming, is a new Task on its team's
        TaskQueue (the README says why): the last one, if any, is completed first."""
        if by is not None:
            self.conversation_parked(conversation, by)
        request_task(conversation)

    def conversation_parked(self, conversation: Conversation, by: Agent) -> None:
        """The agent's work on the chat is done for now: its Task completes, on the Worker's
        lane (after the answer to its Reservation), and the chat gets a new Task when it is
        queued again, on the conversation's lane after this."""
        with transaction.atomic():
            task = Task.objects.select_for_update().filter(conversation=conversation).first()
            if task is None or not task.sid:
                return
            done = task.sid
            task.sid = ""
            task.requested_at = None
            task.save(update_fields=["sid", "requested_at"])
        api.call_later(
            f"completed Task {done}",
            Worker.sid_of(by) or conversation.pk,
            api.finish_task,
            self.space,
            done,
            "completed",
            "The chat went back to a queue or was parked",
        )

    def dispatch(self, team: Team) -> int:
        """Ask again for the Tasks of waiting chats whose Task could not be created, and close
        those that waited TASK_GIVE_UP_AFTER without one, so that no customer waits forever."""
        waiting = team.conversations.filter(state=Conversation.State.QUEUED).exclude(
            twilio_task__sid__gt=""
        )
        cutoff = timezone.now() - TASK_GIVE_UP_AFTER
        for conversation in waiting.filter(queued_at__lt=cutoff):
            if close_unrouted(conversation):
                log.error("No Task could be created for %s: chat closed", conversation.pk)
        return sum(request_task(conversation) for conversation in waiting)


def offer_reservation(
    conversation: Conversation, agent: Agent, task_sid: str, reservation_sid: str
) -> str:
    """Offer a conversation for a Twilio TaskRouter Reservation, under the conversation's lock.

    Return what Twilio must be told: "" (nothing yet: the agent decides), "accepted" (the agent
    has the chat already: an earlier answer was lost), "rejected" (no offer could be made), or
    "cancel" (the Task must end: the chat closed, is another agent's, or has another Task).
    """
    now = timezone.now()
    with transaction.atomic():
        conversation = lock_conversation(conversation)
        task, _ = Task.objects.select_for_update().get_or_create(conversation=conversation)
        if not task.sid:  # the callback came before the Task SID was stored
            task.sid = task_sid
            task.save(update_fields=["sid"])
        if task.sid != task_sid:
            return "cancel"
        if conversation.state in (Conversation.State.CLOSED, Conversation.State.MESSAGE):
            return "cancel"  # ended, or left as a message for the team's browsers
        if conversation.state == Conversation.State.ACTIVE:
            return "accepted" if agent in conversation.current_agents() else "cancel"
        if Reservation.objects.filter(sid=reservation_sid).exists():
            return ""  # offered already, by a callback that came in meanwhile
        # TaskRouter reserves one Worker at a time: a new Reservation means the last one ended,
        # even if its timeout event has not arrived yet.
        offers.rescind_pending(Q(conversation=conversation), now)
        offer = offers.do_offer(conversation, agent, now)
        if offer is None:
            return "rejected"
        Reservation.objects.create(offer=offer, sid=reservation_sid)
        return ""


def end_reservation(tenant: Tenant, reservation_sid: str, state: str) -> Offer | None:
    """End the pending offer that stands for a Reservation that Twilio ended (timed out,
    rescinded or canceled); return it, or None if no such offer was pending."""
    with transaction.atomic():
        offer = (
            Offer.objects.select_for_update()
            .filter(
                twilio_reservation__sid=reservation_sid,
                conversation__tenant=tenant,
                state=Offer.State.PENDING,
            )
            .first()
        )
        if offer is not None:
            offers.finish_offer(offer, state, timezone.now())
    return offer


def close_unrouted(conversation: Conversation) -> Conversation | None:
    """Close a waiting conversation that Twilio gave up on, so that the customer is not left
    waiting; return it, or None if it was not waiting."""
    try:
        return lifecycle.do_close_conversation(
            conversation, None, Conversation.Disposition.UNROUTED
        )
    except ChatError:
        return None  # taken or closed meanwhile
