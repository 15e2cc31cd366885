// Package reqctx carries per-request facts (the request ID, the caller)
// through a context, so platform writers such as audit can read them
// without importing the HTTP layer.
package reqctx

import "context"

type key int

const (
	requestIDKey key = iota
	actorKey
	clientKey
)

type clientInfo struct{ ip, userAgent string }

// WithClient returns ctx carrying where the request came from: the peer
// address and the user agent, for the audit log.
func WithClient(ctx context.Context, ip, userAgent string) context.Context {
	return context.WithValue(ctx, clientKey, clientInfo{ip, userAgent})
}

// Client returns the peer address and user agent in ctx, or "".
func Client(ctx context.Context) (ip, userAgent string) {
	c, _ := ctx.Value(clientKey).(clientInfo)
	return c.ip, c.userAgent
}

// WithRequestID returns ctx carrying the request ID.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request ID in ctx, or "".
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey).(string)
	return s
}

// WithActor returns ctx carrying the acting client's ID.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey, actor)
}

// Actor returns the acting client's ID in ctx, or "".
func Actor(ctx context.Context) string {
	s, _ := ctx.Value(actorKey).(string)
	return s
}
