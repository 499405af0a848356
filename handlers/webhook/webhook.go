// Package webhook understands deploy webhook deliveries: which provider
// sent one, whether its signature holds, what it says was pushed, and
// whether that push should deploy an app (branch, tags, watch paths, skip
// markers). It is pure code over headers and bodies; recording deliveries
// and queueing deployments is the API's job.
package webhook

// Limits on what a user may configure as watch paths.
const (
	MaxWatchPaths     = 50
	maxWatchPathLen   = 200
	maxGlobstarsInPat = 4 // each ** multiplies matching work by the path depth
)

// skipMarkers in the head commit's message stop a push from deploying.
var skipMarkers = [...]string{"[skip ci]", "[ci skip]", "[skip deploy]"}

// Provider names as recorded on deliveries.
const (
	ProviderGitHub    = "github"
	ProviderGitLab    = "gitlab"
	ProviderGitea     = "gitea"
	ProviderBitbucket = "bitbucket"
	ProviderDockerHub = "dockerhub"
	ProviderGeneric   = "generic"
)

// PushEvent is what a delivery says about one ref, whatever the provider.
type PushEvent struct {
	Event   string   // provider's event name, normalised ("push", "tag_push", "ping", ...)
	IsPush  bool     // the event can deploy at all
	Ping    bool     // a "hello" sent when the hook is created
	Ref     string   // refs/heads/<branch>, refs/tags/<tag>, or "" when the call names none
	Commit  string   // head commit
	Message string   // head commit message
	Files   []string // changed files; nil when the payload lists none
	Deleted bool     // the ref was deleted
	Image   string   // registry pushes: repository name
	Tag     string   // registry pushes: tag
}
