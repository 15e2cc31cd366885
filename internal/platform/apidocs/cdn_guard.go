//go:build swguicdn

package apidocs

// The swguicdn tag makes swgui load Swagger UI from a CDN, so /docs would
// break on a machine without internet. This line stops such a build.
var _ int = "apidocs: do not build with -tags swguicdn"
