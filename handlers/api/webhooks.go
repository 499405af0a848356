package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"dokploy/handlers/webhook"

	"dokploy/handlers/web"

	"github.com/labstack/echo/v4"

	"dokploy/db"
)

// maxWebhookBody caps a delivery's body. Push events are a few kilobytes
// (GitHub lists at most 20 commits with their files); 5 MB leaves room for
// monorepo pushes while keeping a flood of large bodies cheap to refuse.
// The global 6 MB BodyLimit still applies first to anything larger.
const maxWebhookBody = 5 << 20

// webhookResult is the JSON body of every 2xx answer of the endpoint.
type webhookResult struct {
	Outcome      string `json:"outcome"`
	Reason       string `json:"reason,omitempty"`
	DeploymentID *int64 `json:"deployment_id,omitempty"`
	DeliveryID   int64  `json:"delivery_id"`
	Message      string `json:"message,omitempty"`
}

// ReceiveWebhook is POST /api/deploy/:token, called by git hosts, registries
// and CI. It only records the delivery and queues a deployment, so a burst
// of pushes is accepted quickly; the queue collapses them into the newest.
func (h *Handler) ReceiveWebhook(c echo.Context) error {
	ctx := c.Request().Context()
	target, err := h.webhookByToken(ctx, c.Param("token"))
	if errors.Is(err, db.ErrNotFound) {
		return web.Error(http.StatusNotFound, "", "unknown webhook token: copy the URL again from the app's page")
	}
	if err != nil {
		return err
	}
	app, err := webhookTarget(target)
	if err != nil {
		return err
	}
	hook := &target.Webhook
	r := c.Request()
	d := &db.Delivery{ServiceID: app.ID, Provider: webhook.DetectProvider(r.Header)}
	d.Event = webhook.EventHeader(d.Provider, r.Header)
	body, err := readCapped(r, maxWebhookBody)
	if err != nil {
		return h.rejectDelivery(c, hook, d, http.StatusRequestEntityTooLarge, err.Error())
	}
	if d.Provider == webhook.ProviderGeneric && webhook.LooksLikeDockerHub(body) {
		d.Provider = webhook.ProviderDockerHub
	}
	if hook.HasSecret() {
		if err := webhook.Verify(d.Provider, r, body, hook.Secret); err != nil {
			return h.rejectDelivery(c, hook, d, http.StatusUnauthorized, err.Error())
		}
	}
	// A provider retrying a delivery it already made (same id) queues
	// nothing. The id is claimed only once the signature checks out, in
	// the transaction that records the delivery.
	deliveryID := webhook.DeliveryID(d.Provider, r.Header)
	events, err := webhook.Parse(d.Provider, r, body)
	if err != nil {
		if deliveryID != "" {
			fresh, err := h.Store.ClaimDeliveryID(ctx, app.ID, d.Provider, deliveryID)
			if err != nil {
				return err
			}
			if !fresh {
				return duplicateDelivery(c, deliveryID)
			}
		}
		return h.rejectDelivery(c, hook, d, http.StatusBadRequest, err.Error())
	}
	ev, reason := webhook.ChooseEvent(app, hook, events)
	d.Event, d.Ref, d.CommitSHA, d.CommitMessage = ev.Event, ev.Ref, ev.Commit, db.ClipText(ev.Message, 500)
	if ev.Image != "" {
		d.Ref = ev.Image + ":" + ev.Tag
	}
	if ev.Ping {
		d.Outcome, d.Reason = db.DeliveryIgnored, "ping: the webhook reaches dokploy"
		return h.recordIgnored(c, d, deliveryID, "pong")
	}
	if reason != "" {
		d.Outcome, d.Reason = db.DeliveryIgnored, reason
		return h.recordIgnored(c, d, deliveryID, "")
	}
	return h.deployFromWebhook(c, app, d, deliveryID, webhook.WatchNote(hook, ev))
}

// duplicateDelivery answers a delivery whose id was already received.
func duplicateDelivery(c echo.Context, deliveryID string) error {
	return c.JSON(http.StatusOK, webhookResult{Outcome: db.DeliveryIgnored, Reason: "duplicate, ignored: delivery " + db.ClipText(deliveryID, 200) + " was already received"})
}

// recordIgnored records a delivery that deploys nothing and answers 200.
func (h *Handler) recordIgnored(c echo.Context, d *db.Delivery, deliveryID, message string) error {
	fresh, err := h.Store.RecordDeliveryOnce(c.Request().Context(), d, deliveryID)
	if err != nil {
		return err
	}
	if !fresh {
		return duplicateDelivery(c, deliveryID)
	}
	return c.JSON(http.StatusOK, webhookResult{Outcome: d.Outcome, Reason: d.Reason, DeliveryID: d.ID, Message: message})
}

// webhookTarget is what a delivery deploys, as the filters see it: the
// app, or a compose stack in an app's terms (its branch; a pasted file
// takes no git pushes, like an image app). Only the fields the filters
// read are set.
func webhookTarget(t *db.WebhookTarget) (*db.App, error) {
	out := &db.App{ID: t.ServiceID, SourceType: t.SourceType, Image: t.Image, GitBranch: t.GitBranch}
	switch t.Kind {
	case db.KindApp:
	case db.KindCompose:
		if t.SourceType == db.ComposeInline {
			out.SourceType, out.Image = db.SourceImage, "a compose file kept in dokploy"
		}
	default:
		return nil, fmt.Errorf("webhook target: a %s takes no deploy webhook: %w", t.Kind, db.ErrNotFound)
	}
	return out, nil
}

// queueUnavailable is added to the reason of deliveries whose deployment
// could not be put on the Redis queue.
const queueUnavailable = " (queue unavailable; the runner picks it up from the database)"

// deployFromWebhook queues the deployment and records the delivery,
// together with the other pushes for the app arriving meanwhile (see
// pushBatcher): it answers 202 with the deployment queued for the newest
// of them.
func (h *Handler) deployFromWebhook(c echo.Context, app *db.App, d *db.Delivery, deliveryID, note string) error {
	d.Outcome, d.Reason = db.DeliveryDeployed, note
	p := &db.WebhookPush{Delivery: d, DeliveryID: deliveryID}
	depID, err := h.pushes.submit(c.Request().Context(), app.ID, p)
	if errors.Is(err, errPushBacklog) {
		c.Response().Header().Set("Retry-After", "1")
		return web.Error(http.StatusTooManyRequests, "", fmt.Sprintf("%d pushes for this app are waiting to be queued; send this one again in a second", maxPushesWaiting))
	}
	if err != nil {
		return err
	}
	if p.Duplicate {
		return duplicateDelivery(c, deliveryID)
	}
	an := db.AuditNoteOf(c.Request().Context())
	an.Record("webhook.deploy", strings.TrimSpace(d.Provider+" "+d.Ref))
	an.About(db.ResService, app.ID)
	return c.JSON(http.StatusAccepted, webhookResult{Outcome: d.Outcome, Reason: d.Reason, DeploymentID: &depID, DeliveryID: d.ID})
}

// writePushes is the pushBatcher's writer: one transaction for the batch,
// then one enqueue of its deployment.
func (h *Handler) writePushes(ctx context.Context, serviceID int64, pushes []*db.WebhookPush) (int64, error) {
	depID, err := h.Store.QueueWebhookPushes(ctx, serviceID, pushes)
	if err != nil || depID == 0 {
		return depID, err
	}
	if err := h.Runner.Enqueue(ctx, depID); err != nil {
		// The row is queued in PostgreSQL; the runner re-enqueues it from there.
		var ids []int64
		var reasons []string
		for _, p := range pushes {
			if !p.Duplicate {
				p.Delivery.Reason = strings.TrimSpace(p.Delivery.Reason + queueUnavailable)
				ids, reasons = append(ids, p.Delivery.ID), append(reasons, p.Delivery.Reason)
			}
		}
		if err := h.Store.SetDeliveryReasons(ctx, ids, reasons); err != nil {
			slog.Warn("webhook deliveries keep their reason without the queue note", "service", serviceID, "deployment", depID, "err", err)
		}
	}
	return depID, nil
}

// rejectDelivery records a refused delivery and answers with the error;
// past rejectLimit per webhook it answers 429 and records nothing.
func (h *Handler) rejectDelivery(c echo.Context, hook *db.Webhook, d *db.Delivery, status int, reason string) error {
	if ok, wait := h.rejects.allow(hook.TokenHash); !ok {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		return web.Error(http.StatusTooManyRequests, "", fmt.Sprintf("%s; too many refused deliveries for this webhook (%d in %s), so this one was not recorded", reason, rejectLimit, rejectWindow))
	}
	d.Outcome, d.Reason = db.DeliveryRejected, reason
	if err := h.Store.RecordDelivery(c.Request().Context(), d); err != nil {
		return err
	}
	return web.Error(status, "", reason)
}

// readCapped reads the whole body or fails once it passes limit bytes.
func readCapped(r *http.Request, limit int64) ([]byte, error) {
	tooLarge := fmt.Errorf("body larger than %d MB", limit>>20)
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return nil, tooLarge
		}
		return nil, fmt.Errorf("reading body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, tooLarge
	}
	return body, nil
}

// WebhookNeedsPOST answers a browser or a misconfigured hook that GETs the
// deploy URL.
func WebhookNeedsPOST(c echo.Context) error {
	c.Response().Header().Set("Allow", http.MethodPost)
	return web.Error(http.StatusMethodNotAllowed, "", "deploy webhooks are POST requests; configure your git host or CI to POST to this URL")
}

// GetWebhook shows the webhook settings with the secret, so scripts can
// configure the git host; changes go through PATCH /applications/{id}.
func (h *Handler) GetWebhook(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	hook, err := h.Store.AppWebhook(c.Request().Context(), a.ID)
	if err != nil {
		return err
	}
	out := h.webhookToJSON(hook)
	out.Secret = hook.Secret
	return c.JSON(http.StatusOK, out)
}

func (h *Handler) RotateWebhook(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	hook, err := h.Ops.RotateWebhookToken(c.Request().Context(), a)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h.webhookToJSON(hook))
}

func (h *Handler) ListDeliveries(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	limit, offset := pageParams(c)
	items, err := h.Store.Deliveries(c.Request().Context(), a.ID, limit, offset)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items, "limit": limit, "offset": offset})
}

// NoSuchEndpoint answers unknown /api paths like the API, not with a page.
func NoSuchEndpoint(echo.Context) error {
	return web.Error(http.StatusNotFound, "", "no such endpoint; the API is described at /api/openapi.json")
}
