// Package route matches requests against compiled App Mesh route matches.
//
// The Compile* functions turn the match of a VirtualRouter route
// (httpRoute/http2Route, grpcRoute) or a GatewayRoute into a *Matcher once,
// off the request path: regexes are compiled anchored to the whole value,
// header names canonicalized so matching indexes http.Header directly, and
// conditions ordered cheapest first (port, method and literal path, then
// scheme and host, headers, query parameters, regexes). The model condition (an
// aimesh addition) is always last and lazy: Request.Model, which reads the
// body, is called only when every other condition of a candidate route
// holds, and at most once per request.
//
// A Table orders matchers by App Mesh priority (0 first; routes without a
// priority after, in the order written) and returns the first that
// matches. Tables of 32 routes or more keep a radix index of the routes'
// literal path prefixes (prefix or exact path; regex and path-less routes
// are always candidates), so a lookup tests only the routes whose literal
// starts the request path, in table order. Matching does not allocate, except when a header condition
// (other than presence) meets a header repeated in the request, whose
// values are joined with "," as Envoy does.
//
// Semantics follow App Mesh and Envoy: a prefix is a plain string prefix
// ("/v1" matches "/v10"), invert negates a header condition's whole result,
// a range is [start, end) over the value parsed as a decimal integer, query
// parameters are compared form-decoded against the first occurrence of
// their name, and a gRPC serviceName matches the path prefix
// "/serviceName/" (with methodName, exactly "/serviceName/methodName").
package route
