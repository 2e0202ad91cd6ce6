package lockbox

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

// Notifications (SPEC §5) leave Lockbox through an outbox: the message is
// written in the same transaction as the state change that causes it, and a
// worker delivers it later, retrying with backoff. A decision therefore
// never waits for, or rolls back because of, a mail server or a webhook
// receiver, and a committed change never loses its notification.

// Outbox channels.
const (
	ChannelEmail   = "email"
	ChannelWebhook = "webhook"
)

// Outbox message statuses. Pending messages are retried until delivered or
// dead; dead messages stay stored (and counted) so a failure is never silent.
const (
	OutboxPending   = "pending"
	OutboxDelivered = "delivered"
	OutboxDead      = "dead"
	// OutboxSkipped is finished without sending because the message no
	// longer meant anything: an email asking approvers to decide a request
	// whose decision deadline passed before it could be delivered.
	OutboxSkipped = "skipped"
)

// Webhook event types (SPEC §5). Request events are named like the audit
// operations they accompany.
const (
	EventTypeRequestPending = "request.pending"
	// EventTypeWebhookTest is a test delivery an endpoint's admin asked
	// for (WebhookService.SendWebhookTest). No endpoint subscribes to it:
	// it goes to the one endpoint it tests, whatever its events.
	EventTypeWebhookTest = "webhook.test"
)

// WebhookEvents lists every event a webhook endpoint may subscribe to.
var WebhookEvents = []string{
	EventTypeRequestPending, OpRequestApproved, OpRequestDenied, OpRequestCanceled,
	OpRequestExpired, OpRequestActivated, OpRequestCompleted, OpRequestRevoked,
	OpOperatorAction, OpOperatorActionBlocked,
	OpRequestExtensionRequested, OpRequestExtensionApproved, OpRequestExtensionDenied, OpRequestExtensionLapsed,
	OpRequestBreakGlassActivated, OpRequestAcknowledged,
}

// Email notice kinds: what an email says, and so which template renders it.
const (
	NoticePending      = "request.pending"       // to approvers: please decide
	NoticeAutoApproved = "request.auto_approved" // to approvers: FYI, approved by the system
	NoticeReminder     = "request.reminder"      // to approvers: the deadline is near
	NoticeApproved     = "request.approved"      // to the requester
	NoticeDenied       = "request.denied"        // to the requester
	NoticeExpired      = "request.expired"       // to the requester
	NoticeRevoked      = "request.revoked"       // to the requester
	// A tenant's policy rule decided by itself (SPEC §11): FYI to approvers.
	NoticePolicyApproved = "request.policy_approved"
	NoticePolicyDenied   = "request.policy_denied"

	NoticeExtensionRequested = "request.extension_requested" // to approvers: please decide
	NoticeExtensionApproved  = "request.extension_approved"  // to the requester
	NoticeExtensionDenied    = "request.extension_denied"    // to the requester
	NoticeExtensionLapsed    = "request.extension_lapsed"    // to the requester

	NoticeBreakGlass   = "request.break_glass"   // to approvers: urgent, access started without approval
	NoticeEscalated    = "request.escalated"     // to the escalation addresses: still undecided
	NoticeAccessReport = "request.access_report" // to approvers: what was done with the access
)

// Notice is the content of a notification: an event about a request (or an
// operator action), as things stood when it happened. It is the JSON body
// of a webhook delivery and the data an email is rendered from, stored in
// the outbox so that every retry sends the same thing.
type Notice struct {
	// Type is the webhook event type or the email notice kind.
	Type      string     `json:"type"`
	Timestamp time.Time  `json:"timestamp"`
	Data      NoticeData `json:"data"`
}

// NoticeData is what a Notice is about.
type NoticeData struct {
	Tenant     string `json:"tenant"`
	TenantName string `json:"tenant_name,omitempty"`
	// Actor is who caused the event: a person's address, or "system".
	Actor   string         `json:"actor,omitempty"`
	Comment string         `json:"comment,omitempty"`
	Request *AccessRequest `json:"request,omitempty"`
	// Action describes an operator action (operator.action events).
	Action map[string]any `json:"action,omitempty"`
	// Passkey is the passkey an account gained (NoticePasskeyAdded).
	Passkey *PasskeyNotice `json:"passkey,omitempty"`
	// Report is the access report (NoticeAccessReport).
	Report *AccessReport `json:"report,omitempty"`
}

// PasskeyNotice says which account gained which passkey.
type PasskeyNotice struct {
	Account      string `json:"account"`
	CredentialID string `json:"credential_id"`
	Name         string `json:"name"`
}

// OutboxMessage is one notification to one recipient: an email to one
// address, or a webhook delivery to one endpoint. Its ID is stable across
// retries: it is the email's Message-ID and the webhook's webhook-id.
type OutboxMessage struct {
	ID      string `json:"id"`
	Channel string `json:"channel"`
	Tenant  string `json:"tenant"`
	// Type is the Notice type: a webhook event or an email notice kind.
	Type      string `json:"type"`
	To        string `json:"to,omitempty"`         // email channel: the address
	WebhookID string `json:"webhook_id,omitempty"` // webhook channel: the endpoint
	// Payload is the Notice as JSON.
	Payload       []byte     `json:"payload"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	CreatedAt     time.Time  `json:"created_at"`
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	LastError     string     `json:"last_error,omitempty"`
	FinishedAt    *time.Time `json:"finished_at,omitempty"`
	// ResentAt is when a finished webhook delivery was last sent again on
	// request (ResendWebhookDelivery); nil when it never was.
	ResentAt *time.Time `json:"resent_at,omitempty"`
	// LeaseUntil, on a message being enqueued, stores it already claimed
	// (Attempts 1) until then, by the delivery worker it is handed to once
	// it commits (OutboxHandoff). It is not read back.
	LeaseUntil *time.Time `json:"-"`
}

// RetriedSince is when the message's retries began: when it was created,
// or, for one sent again on request, when it last was. A delivery worker
// retries a failed message for a time from then (outbox.Options.RetryFor).
func (m *OutboxMessage) RetriedSince() time.Time {
	if m.ResentAt != nil {
		return *m.ResentAt
	}
	return m.CreatedAt
}

// OutboxHandoff is a delivery worker of this process that takes
// notifications from the transactions that enqueue them (outbox.Worker):
// a message is stored already leased to it, and sent as soon as its
// transaction commits, without waiting for a round of the worker or a
// claim of its own. Anything the worker cannot do in time it gives back
// (ReleaseOutbox), and a message handed to a replica that then died is
// claimed by another when its lease ends, as after a crash mid-send.
type OutboxHandoff interface {
	// Lease reserves room for n messages of channel about to be enqueued
	// and returns the lease to store them with; false when the worker
	// takes none of that channel now (stopped, full, or the channel's
	// receivers are slow): store them unclaimed.
	Lease(channel string, n int) (until time.Time, ok bool)
	// Takes reports whether the worker would send m now if it were leased
	// and handed over; false for one it would only give back (a webhook
	// delivery to an endpoint whose share of sends is under way): store
	// such a message unclaimed, and lease room only for the others.
	Takes(m *OutboxMessage) bool
	// Handoff gives the worker messages whose transaction committed:
	// those stored with a lease from Lease, to send, and those Takes
	// declined, stored unclaimed, to claim as soon as it would take them.
	Handoff(msgs []*OutboxMessage)
	// Unlease frees the room of n leased messages of channel whose
	// transaction did not commit.
	Unlease(channel string, n int)
}

// OutboxResult is the outcome of one delivery attempt.
type OutboxResult struct {
	Status string    // OutboxDelivered, OutboxPending (retry), OutboxDead or OutboxSkipped
	At     time.Time // when the attempt ended
	// NextAttemptAt is when to retry (Status OutboxPending).
	NextAttemptAt time.Time
	// LastError says why the attempt failed, for people; never a secret.
	LastError string
}

// OutboxFinish is the result of attempt number Attempt (the claim's
// incremented OutboxMessage.Attempts) of message ID, for FinishOutbox.
type OutboxFinish struct {
	ID      string
	Attempt int
	Result  OutboxResult
}

// OutboxAttempt names attempt number Attempt (the claim's incremented
// OutboxMessage.Attempts) of message ID, for ReleaseOutbox.
type OutboxAttempt struct {
	ID      string
	Attempt int
}

// CheckOutboxFinishes refuses what FinishOutbox cannot record (EINVALID):
// an unknown status, or one message given twice (a message has one attempt
// under way at a time, so two results for it are a caller's bug).
func CheckOutboxFinishes(results []OutboxFinish) error {
	seen := make(map[string]bool, len(results))
	for _, f := range results {
		switch f.Result.Status {
		case OutboxDelivered, OutboxDead, OutboxSkipped, OutboxPending:
		default:
			return Errorf(EINVALID, "Unknown outbox status %q.", f.Result.Status)
		}
		if seen[f.ID] {
			return Errorf(EINVALID, "Outbox message %q is given twice.", f.ID)
		}
		seen[f.ID] = true
	}
	return nil
}

// Finished reports whether the result ends the message (delivered, dead or
// skipped) rather than scheduling another attempt.
func (r OutboxResult) Finished() bool { return r.Status != OutboxPending }

// OutboxQuery filters a listing of the outbox. Empty fields match all.
type OutboxQuery struct {
	Channel string
	Status  string
	Tenant  string
	Limit   int
}

// OutboxCount is how many messages of one channel are in one status, and
// when the oldest of them was created.
type OutboxCount struct {
	Channel string
	Status  string
	Count   int
	Oldest  time.Time
}

// OutboxClaim is what a delivery worker claims (OutboxTx.ClaimOutbox).
type OutboxClaim struct {
	Channel    string
	Now        time.Time // messages due at Now
	LeaseUntil time.Time // the end of the claimed messages' lease
	Limit      int       // at most this many
	// PerEndpoint, when above 0, bounds the deliveries of one webhook
	// endpoint (WebhookID) in a claim of webhooks: an endpoint with a
	// backlog then leaves room for the others' deliveries, which would
	// otherwise wait behind all of it (outbox/lane.go). Emails have no
	// endpoint, and a claim of emails ignores it.
	PerEndpoint int
	// Skip names webhook endpoints whose deliveries a claim of webhooks
	// (with PerEndpoint) leaves where they are: those the worker is still
	// sending to, which get their next share once those sends end, so that
	// a slow receiver never has more than a share in flight from one
	// worker (outbox/lane.go).
	Skip []string
}

// OutboxTx is the persistence of the notification outbox, the webhook
// endpoints and the expiry reminders; part of every store's Tx. Times are
// the caller's clock at microsecond precision: a store never reads its own.
type OutboxTx interface {
	// EnqueueOutbox stores new messages as given (callers set Status
	// pending, Attempts 0 and NextAttemptAt, usually CreatedAt; or, for a
	// message handed to a worker as it commits, Attempts 1 and LeaseUntil:
	// OutboxHandoff). ECONFLICT
	// when an id is taken: at once for an id given twice in the
	// transaction, and for one already stored either at once or, where the
	// store inserts the messages with the commit (PostgreSQL), from Update,
	// which then commits nothing. They commit or roll back with the
	// transaction, together with the change that caused them.
	EnqueueOutbox(ctx context.Context, msgs ...*OutboxMessage) error
	// ClaimOutbox leases at most c.Limit pending messages of c.Channel that
	// are due at c.Now (NextAttemptAt <= Now) and not under a live lease
	// (none, or one ending at or before Now), earliest first (the later of
	// NextAttemptAt and the lease's end, then id), taking no more than
	// c.PerEndpoint of one webhook endpoint when that is above 0, and then
	// none of an endpoint in c.Skip. Each claimed message's Attempts is
	// incremented and its lease runs until c.LeaseUntil; the messages are
	// returned with the incremented Attempts. A message is never returned
	// to two claimers while its lease is live, whichever transaction or
	// replica asks; claimers do not wait for each other (PostgreSQL: FOR
	// UPDATE SKIP LOCKED).
	ClaimOutbox(ctx context.Context, c OutboxClaim) ([]*OutboxMessage, error)
	// FinishOutbox records the results of attempts, each for its message
	// and attempt number, and ends their leases, all in one statement where
	// the store can (a worker records together the attempts that ended
	// together). It returns one error per result, in order: nil when
	// recorded, or ECONFLICT, recording nothing for that message, when the
	// message is missing, no longer pending, or at another attempt number
	// (its lease ran out and another claimer took it); the others are
	// recorded all the same and the transaction stays usable. The call's
	// own error (EINVALID for an unknown status or a message given twice,
	// or a failure of the store) records nothing the caller should keep:
	// roll the transaction back.
	FinishOutbox(ctx context.Context, results ...OutboxFinish) ([]error, error)
	// ReleaseOutbox gives back claimed messages whose attempt never
	// started (a worker whose receivers were too slow to start them well
	// within their lease): each one still held at that attempt number
	// (pending, same Attempts) ends its lease and takes back the claim's
	// increment of Attempts, so it is claimable at once, by any worker,
	// with its next attempt time, last error and backoff as before the
	// claim. One no longer held (its lease ran out and another claimer
	// took it, or it was recorded) is left alone. It returns how many it
	// released.
	ReleaseOutbox(ctx context.Context, held ...OutboxAttempt) (int, error)
	// NextOutboxWake returns the earliest time at which a pending message
	// of channel becomes claimable (the later of its NextAttemptAt and its
	// lease's end), or zero when no message of channel is pending.
	NextOutboxWake(ctx context.Context, channel string) (time.Time, error)
	// OutboxCounts counts the messages by channel and status (only
	// non-empty groups), ordered by channel then status.
	OutboxCounts(ctx context.Context) ([]OutboxCount, error)
	// ListOutbox returns messages matching q, newest first (CreatedAt, then
	// id, descending), at most q.Limit (0: 100).
	ListOutbox(ctx context.Context, q OutboxQuery) ([]*OutboxMessage, error)
	// PurgeOutbox deletes at most limit delivered or dead messages that
	// finished before before, and returns how many it deleted.
	PurgeOutbox(ctx context.Context, before time.Time, limit int) (int, error)

	// DueReminders returns the ids of requests whose stored reminder time
	// (AccessRequest.RemindAt, which the workflow computes) is at or before
	// now and that have no reminder recorded, in id order, at most limit.
	DueReminders(ctx context.Context, now time.Time, limit int) ([]string, error)
	// NextReminder returns the earliest stored reminder time after now
	// among requests with no reminder recorded, or zero.
	NextReminder(ctx context.Context, now time.Time) (time.Time, error)
	// MarkReminded records that request requestID's reminder was enqueued at
	// now. It returns false, changing nothing, when one is already
	// recorded: at most one reminder per request, across replicas. It never
	// fails on a duplicate (PostgreSQL: ON CONFLICT DO NOTHING), so the
	// transaction stays usable.
	MarkReminded(ctx context.Context, requestID string, now time.Time) (bool, error)

	// InsertWebhook stores an endpoint with its signing secret. ECONFLICT
	// when the id is taken.
	InsertWebhook(ctx context.Context, w *Webhook, secret string) error
	// ListWebhooks returns a tenant's endpoints (without secrets) ordered by
	// CreatedAt, then id; PreviousSecretExpiresAt is set on those with a
	// previous secret, whether or not its grace has ended.
	ListWebhooks(ctx context.Context, tenant string) ([]*Webhook, error)
	// GetWebhook returns a tenant's endpoint and its secrets (as stored:
	// sealed). ENOTFOUND when missing or another tenant's.
	GetWebhook(ctx context.Context, tenant, id string) (*Webhook, StoredWebhookSecrets, error)
	// UpdateWebhook stores w's URL, events and description for the
	// endpoint w.ID of w.Tenant. ENOTFOUND when missing.
	UpdateWebhook(ctx context.Context, w *Webhook) error
	// StaleWebhookSecrets returns, ordered by tenant and id, the endpoints
	// whose stored secret does not start with current (SecretBox.Current):
	// the only ones the start-up pass may have to seal.
	StaleWebhookSecrets(ctx context.Context, current string) ([]WebhookSecret, error)
	// ReplaceWebhookSecret stores secret as the endpoint's only if the
	// stored one is still old (compare and set); ENOTFOUND otherwise.
	ReplaceWebhookSecret(ctx context.Context, tenant, id, old, secret string) error
	// RotateWebhookSecret stores next as the endpoint's secrets if its
	// current one is still old (compare and set); ENOTFOUND otherwise.
	RotateWebhookSecret(ctx context.Context, tenant, id, old string, next StoredWebhookSecrets) error
	// WebhookDeliveries returns the outbox messages of a tenant's endpoint,
	// newest first, at most limit (pending, delivered, and dead until
	// purged); none when it has none, or is another tenant's.
	WebhookDeliveries(ctx context.Context, tenant, id string, limit int) ([]*OutboxMessage, error)
	// WaitingDeliveries counts the pending deliveries of each of a
	// tenant's endpoints ids, by endpoint; an endpoint with none, or
	// another tenant's, is not in the map.
	WaitingDeliveries(ctx context.Context, tenant string, ids []string) (map[string]WebhookWaiting, error)
	// ResendWebhookDelivery makes a finished (delivered, dead or skipped)
	// message of a tenant's endpoint pending again, due at now and resent
	// at now (OutboxMessage.ResentAt), and returns it. ENOTFOUND when there is no such message of that endpoint
	// of that tenant; ECONFLICT when it is still pending.
	ResendWebhookDelivery(ctx context.Context, tenant, webhookID, id string, now time.Time) (*OutboxMessage, error)
	// DeleteWebhook deletes a tenant's endpoint and its pending outbox
	// messages (delivered and dead ones stay), those of Updates committed
	// together with this one included. ENOTFOUND when missing or another
	// tenant's.
	DeleteWebhook(ctx context.Context, tenant, id string) error
}

// WebhookSecret is an endpoint's signing secret as a store keeps it:
// sealed (SecretBox), opened only to sign a delivery.
type WebhookSecret struct {
	Tenant, ID, Secret string
}

// StoredWebhookSecrets are an endpoint's signing secrets as a store keeps
// them, sealed: the current one, and the one it replaced, which signs too
// until PreviousUntil (the grace a rotation gave; "" and zero when none).
type StoredWebhookSecrets struct {
	Current       string
	Previous      string
	PreviousUntil time.Time
}

// Webhook is a tenant's endpoint that receives signed event deliveries.
type Webhook struct {
	ID          string    `json:"id"`
	Tenant      string    `json:"tenant"`
	URL         string    `json:"url"`
	Events      []string  `json:"events"`
	Description string    `json:"description"`
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	// Secret ("whsec_" + base64) signs deliveries. It is set only in the
	// response that creates the endpoint or rotates its secret: shown once,
	// never listed again.
	Secret string `json:"secret,omitempty"`
	// PreviousSecretExpiresAt is set while a rotation's grace period lasts
	// (in the rotation's response, and in lists until then): until then
	// deliveries are signed with the old secret too, so receivers can
	// switch without refusing any.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	// Waiting is how many of its deliveries are neither delivered nor
	// given up yet, and WaitingSince when the oldest of them was created:
	// a receiver that is down or slow shows here as a backlog. Set in
	// lists only.
	Waiting      int        `json:"waiting,omitempty"`
	WaitingSince *time.Time `json:"waiting_since,omitempty"`
}

// WebhookWaiting is an endpoint's deliveries not yet delivered nor given
// up: how many, and when the oldest was created.
type WebhookWaiting struct {
	Count int
	Since time.Time
}

// Subscribed reports whether the endpoint receives events of type typ.
func (w *Webhook) Subscribed(typ string) bool { return slices.Contains(w.Events, typ) }

// WebhookUpdate changes an endpoint: nil fields stay as they are. Its
// secret and undelivered deliveries stay too (those go to the new URL).
type WebhookUpdate struct {
	URL         *string   `json:"url,omitempty"`
	Events      *[]string `json:"events,omitempty"`
	Description *string   `json:"description,omitempty"`
}

// NewWebhook is the input to register an endpoint. Events defaults to all.
type NewWebhook struct {
	URL         string   `json:"url"`
	Events      []string `json:"events,omitempty"`
	Description string   `json:"description,omitempty"`
}

// Limits of webhook endpoints.
const (
	MaxWebhooksPerTenant  = 10
	MaxWebhookURLLen      = 2048
	MaxWebhookDescription = 200
	// MaxWebhookDeliveries is how many of an endpoint's latest deliveries
	// its admins are shown.
	MaxWebhookDeliveries = 50
)

// WebhookDelivery is one message to a tenant's endpoint as its admins see
// it: whether it arrived, and if not why, without its body.
type WebhookDelivery struct {
	// ID is the message's webhook-id header, the same on every attempt.
	ID   string `json:"id"`
	Type string `json:"type"` // the event
	// Status is pending (being sent or retried), delivered or dead (given
	// up after 24 hours of retries, or refused for good).
	Status   string    `json:"status"`
	Attempts int       `json:"attempts"`
	Created  time.Time `json:"created_at"`
	// NextAttemptAt is when a pending message is tried again.
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	FinishedAt    *time.Time `json:"finished_at,omitempty"`
	// ResentAt is when it was last sent again on request; its 24 hours of
	// retries count from then.
	ResentAt *time.Time `json:"resent_at,omitempty"`
	// LastError is why the last attempt failed (the endpoint's host and
	// answer, never its path, query or a secret).
	LastError string `json:"last_error,omitempty"`
}

// WebhookService manages a tenant's webhook endpoints (global_admin and
// lockbox_approver). Another tenant answers ENOTFOUND.
type WebhookService interface {
	// CreateWebhook registers an endpoint and returns it with its secret
	// (the only time the secret is shown). EINVALID on a bad URL or event.
	CreateWebhook(ctx context.Context, tenant string, in NewWebhook) (*Webhook, error)
	ListWebhooks(ctx context.Context, tenant string) ([]*Webhook, error)
	// DeleteWebhook removes an endpoint; ENOTFOUND when there is none.
	DeleteWebhook(ctx context.Context, tenant, id string) error
	// UpdateWebhook changes an endpoint's URL, events or description and
	// returns it (without its secret). EINVALID as CreateWebhook, and when
	// nothing is to change.
	UpdateWebhook(ctx context.Context, tenant, id string, in WebhookUpdate) (*Webhook, error)
	// RotateWebhookSecret gives an endpoint a new signing secret and
	// returns the endpoint with it (shown this once). During grace (at
	// most a day) deliveries carry a signature with the old secret too;
	// EINVALID on a grace out of range, ECONFLICT when another rotation
	// changed the secret meanwhile.
	RotateWebhookSecret(ctx context.Context, tenant, id string, grace time.Duration) (*Webhook, error)
	// ListWebhookDeliveries returns an endpoint's latest deliveries, newest
	// first (at most MaxWebhookDeliveries; finished ones are kept 7 days).
	// ENOTFOUND when there is no such endpoint.
	ListWebhookDeliveries(ctx context.Context, tenant, id string) ([]*WebhookDelivery, error)
	// ResendWebhookDelivery sends a delivered or dead delivery of an
	// endpoint again, with the same webhook-id, and returns it pending,
	// retried for 24 hours from now if it fails. ENOTFOUND when there is no
	// such delivery; ECONFLICT while it is still pending.
	ResendWebhookDelivery(ctx context.Context, tenant, id, delivery string) (*WebhookDelivery, error)
	// SendWebhookTest queues a webhook.test delivery to an endpoint, to
	// check its receiver, and returns it. ENOTFOUND when there is no such
	// endpoint.
	SendWebhookTest(ctx context.Context, tenant, id string) (*WebhookDelivery, error)
}

// ValidateWebhookEvents checks and normalizes a subscription list: known
// events, no repeats; nil (left out) means every event, and an explicit
// empty list is refused rather than read as "everything" (SPEC §14).
func ValidateWebhookEvents(events []string) ([]string, error) {
	if events == nil {
		return slices.Clone(WebhookEvents), nil
	}
	if len(events) == 0 {
		return nil, FieldErrorf(EINVALID, "events", "events is an empty list; leave it out to receive every event, or name at least one of %s.", strings.Join(WebhookEvents, ", "))
	}
	out := []string{}
	for _, e := range events {
		if !slices.Contains(WebhookEvents, e) {
			return nil, FieldErrorf(EINVALID, "events", "Unknown webhook event %q; use any of %s.", e, strings.Join(WebhookEvents, ", "))
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// DeliveryError is a failed delivery attempt, as a channel adapter (mail,
// webhook) reports it to the delivery worker: Kind labels the failure in
// metrics ("smtp_temporary", "connect", "http_status", …) and Permanent
// says that retrying cannot help, so the message is dead at once.
type DeliveryError struct {
	Kind      string
	Permanent bool
	Err       error
}

func (e *DeliveryError) Error() string { return e.Kind + ": " + e.Err.Error() }
func (e *DeliveryError) Unwrap() error { return e.Err }

// DeliveryErrorKind returns the Kind of the DeliveryError in err's chain,
// or "other".
func DeliveryErrorKind(err error) string {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.Kind
	}
	return "other"
}

// PermanentDelivery reports whether err is a DeliveryError marked permanent.
func PermanentDelivery(err error) bool {
	var de *DeliveryError
	return errors.As(err, &de) && de.Permanent
}

// DevMail is an email captured by a --dev server (SPEC §5: GET /v1/dev/mail).
type DevMail struct {
	ID        string    `json:"id"` // the outbox message id
	To        []string  `json:"to"`
	Subject   string    `json:"subject"`
	MessageID string    `json:"message_id"`
	Date      time.Time `json:"date"`
	Text      string    `json:"text"`
	HTML      string    `json:"html"`
}

// DevMailbox is the mail a --dev server captured.
type DevMailbox interface {
	// ListMail returns the captured mail, newest first.
	ListMail(ctx context.Context) ([]*DevMail, error)
	// MailEML returns one captured message as it would be sent (RFC 5322,
	// for .eml files). ENOTFOUND when there is none with that id.
	MailEML(ctx context.Context, id string) ([]byte, error)
}
