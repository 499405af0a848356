package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"dokploy/static"
)

// routes lists every route with its middleware, in one place.
func (h *Handler) routes(e *echo.Echo) {
	e.Pre(middleware.RemoveTrailingSlashWithConfig(middleware.TrailingSlashConfig{RedirectCode: http.StatusMovedPermanently}))
	e.Use(middleware.Recover())
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{
		XSSProtection: "0", ContentTypeNosniff: "nosniff", XFrameOptions: "DENY",
		ReferrerPolicy: "same-origin",
	}))
	e.Use(middleware.BodyLimit("6M"))
	e.Use(h.csrf, h.loadUser)

	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", static.Handler())))
	e.GET("/api/health", h.health)

	e.GET("/login", h.showLoginPage)
	e.POST("/login", h.login)
	e.POST("/logout", h.logout)
	e.GET("/setup", h.showSetupPage)
	e.POST("/setup", h.setup)

	ui := e.Group("", h.requireUser)
	ui.GET("/", h.showDashboardPage)
	ui.POST("/projects", h.createProject)
	ui.GET("/projects/:id", h.showProjectPage)
	ui.POST("/projects/:id/rename", h.renameProject)
	ui.POST("/projects/:id/delete", h.deleteProject)
	ui.POST("/projects/:id/environments", h.createEnvironment)
	ui.POST("/environments/:id/rename", h.renameEnvironment)
	ui.POST("/environments/:id/delete", h.deleteEnvironment)
	ui.POST("/projects/:id/apps", h.createApp)
	ui.GET("/apps/:id", h.showAppPage)
	ui.POST("/apps/:id", h.updateApp)
	ui.POST("/apps/:id/env", h.updateAppEnv)
	ui.POST("/apps/:id/env/reveal", h.revealAppEnv)
	ui.POST("/apps/:id/ports", h.updateAppPorts)
	ui.POST("/apps/:id/deploy-key", h.generateDeployKey)
	ui.POST("/apps/:id/deploy", h.deployApp)
	ui.POST("/apps/:id/stop", h.stopApp)
	ui.POST("/apps/:id/start", h.startApp)
	ui.POST("/apps/:id/restart", h.restartApp)
	ui.POST("/apps/:id/delete", h.deleteApp)
	ui.GET("/apps/:id/live", h.showAppLivePartial)
	ui.GET("/apps/:id/runtime-logs", h.streamRuntimeLogs)
	ui.GET("/deployments/:id", h.showDeploymentPage)
	ui.GET("/deployments/:id/stream", h.streamDeploymentLogs)
	ui.GET("/deployments/:id/status", h.showDeploymentStatusPartial)
	ui.POST("/deployments/:id/cancel", h.cancelDeployment)
	ui.GET("/settings", h.showSettingsPage)
	ui.POST("/settings/concurrency", h.updateConcurrency)
	ui.POST("/settings/tokens", h.createToken)
	ui.POST("/settings/tokens/:id/revoke", h.revokeToken)
	ui.POST("/settings/sessions/:id/revoke", h.revokeSession)

	api := e.Group("/api/v1", h.requireAPIUser)
	api.GET("/projects", h.apiListProjects)
	api.POST("/projects", h.apiCreateProject)
	api.GET("/applications", h.apiListApps)
	api.POST("/applications", h.apiCreateApp)
	api.GET("/applications/:id", h.apiGetApp)
	api.PATCH("/applications/:id", h.apiUpdateApp)
	api.DELETE("/applications/:id", h.apiDeleteApp)
	api.POST("/applications/:id/deploy", h.apiDeployApp)
	api.GET("/applications/:id/deployments", h.apiListDeployments)
	api.GET("/deployments/:id", h.apiGetDeployment)
	api.GET("/deployments/:id/logs", h.apiDeploymentLogs)
	api.POST("/deployments/:id/cancel", h.apiCancelDeployment)
}
