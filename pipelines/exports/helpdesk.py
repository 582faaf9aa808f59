"""Helpdesk (omni-channel customer service) exports."""
from .contract import Export, col, key

CHANNELS = ("email", "phone", "chat", "social")
PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_STATUSES = ("new", "open", "pending", "solved", "closed")
AUTHOR_ROLES = ("customer", "agent", "system")
INTERACTION_TYPES = ("message", "internal_note", "solved", "reopened", "escalated")

tickets = Export(
    system="helpdesk",
    name="tickets",
    description="Support tickets (change export: a ticket comes again with a newer `updated_at` on every status change).",
    columns=(
        key("ticket_id", "VARCHAR", "Ticket id."),
        col("created_at", "TIMESTAMP", "When the customer opened the ticket (UTC)."),
        col("updated_at", "TIMESTAMP", "Last change of the ticket (UTC); the newest version wins."),
        col("channel", "VARCHAR", "Channel the ticket came in through.", allowed=CHANNELS),
        col("priority", "VARCHAR", "Priority set by triage.", allowed=PRIORITIES),
        col("status", "VARCHAR", "Status at `updated_at`, in the helpdesk's own words.", allowed=TICKET_STATUSES, seed="ticket_statuses"),
        col("category", "VARCHAR", "Contact reason set by the agent (SOP-CS-01: every solved ticket has one)."),
        col("requester_id", "VARCHAR", "Customer who opened the ticket (storefront customer_id)."),
        col("order_id", "VARCHAR", "Order the ticket is about, if any."),
        col("assignee_id", "VARCHAR", "Agent currently assigned."),
        col("solved_at", "TIMESTAMP", "Last time the ticket was solved (UTC); NULL while unsolved."),
    ),
    primary_key=("ticket_id",),
    change_timestamp="updated_at",
    event_date="updated_at",
)

ticket_interactions = Export(
    system="helpdesk",
    name="ticket_interactions",
    description="Every event on a ticket: messages and calls from customers and agents, internal notes, solves, reopens, escalations.",
    columns=(
        key("interaction_id", "VARCHAR", "Interaction id."),
        col("ticket_id", "VARCHAR", "Ticket the interaction belongs to."),
        col("created_at", "TIMESTAMP", "When it happened (UTC)."),
        col("author_role", "VARCHAR", "Who acted, in the helpdesk's own words.", allowed=AUTHOR_ROLES, seed="ticket_author_roles"),
        col("author_id", "VARCHAR", "Agent or customer id; NULL for system events."),
        col("channel", "VARCHAR", "Channel of the interaction.", allowed=CHANNELS),
        col("is_public", "BOOLEAN", "Visible to the customer (internal notes are not)."),
        col("event_type", "VARCHAR", "What happened, in the helpdesk's own words.", allowed=INTERACTION_TYPES, seed="ticket_event_types"),
        col("escalation_tier", "VARCHAR", "Tier escalated to (escalated events only), e.g. tier2."),
        col("assignee_id", "VARCHAR", "Agent the ticket was escalated to (escalated events only)."),
    ),
    primary_key=("interaction_id",),
    event_date="created_at",
)

csat_responses = Export(
    system="helpdesk",
    name="csat_responses",
    description="Satisfaction surveys sent after a ticket is solved, with the customer's 1–5 score if answered.",
    columns=(
        key("response_id", "VARCHAR", "Survey id."),
        col("ticket_id", "VARCHAR", "Ticket the survey is about."),
        col("sent_at", "TIMESTAMP", "When the survey was sent (UTC)."),
        col("responded_at", "TIMESTAMP", "When the customer answered (UTC); NULL if unanswered."),
        col("score", "INTEGER", "Score 1 (very unsatisfied) to 5 (very satisfied); NULL if unanswered."),
    ),
    primary_key=("response_id",),
    event_date="sent_at",
)

EXPORTS = (tickets, ticket_interactions, csat_responses)
