package pages

import (
	"net/http"
	"strings"

	"dokploy/handlers/webhook"
	"dokploy/jobs/ops"

	"dokploy/handlers/web"

	"github.com/labstack/echo/v4"

	"dokploy/db"
)

// deliveriesShown is how many deliveries the app page lists.
const deliveriesShown = 20

// webhookPanel is the data of the app page's webhook section.
type webhookPanel struct {
	App        *db.App
	Hook       *db.Webhook
	URL        string
	WatchPaths string // one pattern per line, as the textarea shows them
	Deliveries []db.Delivery
	CSRF       string
	Saved      string
	Error      string
	ShowSecret bool // right after "Generate secret", so it can be copied
	Mismatch   *web.AddressMismatch
}

func (h *Handler) loadWebhookPanel(c echo.Context, a *db.App) (*webhookPanel, error) {
	ctx := c.Request().Context()
	hook, err := h.Store.AppWebhook(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	deliveries, err := h.Store.Deliveries(ctx, a.ID, deliveriesShown, 0)
	if err != nil {
		return nil, err
	}
	p := &webhookPanel{App: a, Hook: hook, URL: h.WebhookURL(hook), Deliveries: deliveries,
		WatchPaths: strings.Join(hook.WatchPaths, "\n"), Mismatch: h.PublicAddressMismatch(c)}
	p.CSRF = web.CSRF(c)
	return p, nil
}

// renderWebhookPanel re-renders the section, with a message for the user.
func (h *Handler) renderWebhookPanel(c echo.Context, a *db.App, status int, mutate func(*webhookPanel)) error {
	p, err := h.loadWebhookPanel(c, a)
	if err != nil {
		return err
	}
	if mutate != nil {
		mutate(p)
	}
	return h.Partial(c, status, "app_webhooks", p)
}

func (h *Handler) ShowWebhookPanel(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	return h.renderWebhookPanel(c, a, http.StatusOK, nil)
}

// ShowWebhookDeliveries is polled by the page so deliveries appear live.
func (h *Handler) ShowWebhookDeliveries(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	deliveries, err := h.Store.Deliveries(c.Request().Context(), a.ID, deliveriesShown, 0)
	if err != nil {
		return err
	}
	return h.Partial(c, http.StatusOK, "webhook_deliveries", &webhookPanel{App: a, Deliveries: deliveries})
}

func (h *Handler) UpdateWebhookSettings(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	deployOn, autoDeploy := c.FormValue("deploy_on"), c.FormValue("auto_deploy") == "on"
	raw := c.FormValue("watch_paths")
	var watch []string
	verr := webhook.ValidateDeployOn(deployOn)
	if verr == nil {
		watch, verr = webhook.ValidateWatchPaths(strings.Split(raw, "\n"))
	}
	if verr != nil {
		return h.renderWebhookPanel(c, a, http.StatusUnprocessableEntity, func(p *webhookPanel) {
			p.Error, p.WatchPaths = verr.Error()+". Nothing was saved.", raw
		})
	}
	set := &ops.WebhookUpdate{DeployOn: &deployOn, WatchPaths: &watch, AutoDeploy: &autoDeploy}
	if err := h.Ops.UpdateExtras(c.Request().Context(), a, ops.AppExtras{Webhook: set}); err != nil {
		return err
	}
	return h.renderWebhookPanel(c, a, http.StatusOK, func(p *webhookPanel) { p.Saved = "Webhook settings saved." })
}

func (h *Handler) RotateWebhookToken(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	if _, err := h.Ops.RotateWebhookToken(c.Request().Context(), a); err != nil {
		return err
	}
	return h.renderWebhookPanel(c, a, http.StatusOK, func(p *webhookPanel) {
		p.Saved = "New webhook URL. Update it at your git host: the old one no longer works."
	})
}

// UpdateWebhookSecret generates, sets or clears the signing secret.
func (h *Handler) UpdateWebhookSecret(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	secret, msg := "", "Secret cleared: deliveries are no longer verified, only the URL token protects the webhook."
	switch c.FormValue("action") {
	case "generate":
		secret, msg = db.RandomToken(), "New secret generated. Paste it into your git host's webhook settings."
	case "set":
		secret, msg = strings.TrimSpace(c.FormValue("secret")), "Secret saved."
		if secret == "" {
			return h.renderWebhookPanel(c, a, http.StatusUnprocessableEntity, func(p *webhookPanel) {
				p.Error = "Enter a secret, or use Clear to turn verification off."
			})
		}
	}
	if err := webhook.ValidateSecret(secret); err != nil {
		return h.renderWebhookPanel(c, a, http.StatusUnprocessableEntity, func(p *webhookPanel) { p.Error = err.Error() + "." })
	}
	if err := h.Ops.UpdateExtras(c.Request().Context(), a, ops.AppExtras{WebhookSecret: &secret}); err != nil {
		return err
	}
	return h.renderWebhookPanel(c, a, http.StatusOK, func(p *webhookPanel) {
		p.Saved, p.ShowSecret = msg, secret != ""
	})
}
