/**
 * Authentication and authorization of the server's HTTP and gRPC calls: scopes, principals and the
 * authenticator. For operators: see docs/api.md, "Tokens".
 */
package dev.flags.server.auth;
