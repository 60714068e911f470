// Package semantics holds the rules of HTTP caching for a shared cache (a
// proxy) as pure functions: RFC 9111 (HTTP Caching) and the caching parts of
// RFC 9110 (dates, status codes, validators, conditional and range
// requests). Package cache asks it whether a response may be stored, how
// long it stays fresh, how old it is, which stored variant a request
// selects, how to revalidate it and how to merge a 304 into it.
//
// Every function here is deterministic: it has no storage, does no I/O,
// reads no clock (the current time is always a parameter), keeps no state
// and never modifies its arguments. It does not decide policy that RFC 9111
// leaves to the cache (whether to revalidate in the background, how to key
// entries, how large an entry may be); package cache does.
//
// The cache is shared (RFC 9111 §1): responses marked private are not
// stored, s-maxage is honoured, and proxy-revalidate applies.
package semantics
