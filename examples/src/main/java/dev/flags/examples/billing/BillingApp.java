package dev.flags.examples.billing;

import dev.flags.client.Flags;
import io.undertow.Undertow;
import io.undertow.servlet.Servlets;
import io.undertow.servlet.api.DeploymentInfo;
import io.undertow.servlet.api.DeploymentManager;
import io.undertow.servlet.api.ServletContainer;
import io.undertow.servlet.util.ImmediateInstanceFactory;
import jakarta.servlet.ServletException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Thread-safe. A small billing service that ships its new billing path dark behind the flag
 * {@code billing-v2}, as real application code would: one {@link Flags} for the application, created
 * once at start, asked on every request.
 * <pre>{@code
 * POST /checkout  (X-User-Id, X-User-Roles, X-User-Region headers)  -> charges: which billing path, and why
 * GET /health     -> 200 once the SDK holds flags, with their freshness
 * }</pre>
 */
public final class BillingApp implements AutoCloseable {

    private final Flags flags;
    private final Undertow http;
    private final DeploymentManager deployment;
    private final AtomicBoolean closed = new AtomicBoolean();

    private BillingApp(Flags flags, Undertow http, DeploymentManager deployment) {
        this.flags = flags;
        this.http = http;
        this.deployment = deployment;
    }

    /**
     * Starts the service: creates the SDK (which never blocks start-up) and opens the port.
     *
     * @param port the HTTP port; 0 picks a free one
     * @param flagServer the flag server's gRPC address, host:port
     * @param sdkToken an sdk token of the environment
     * @param environment the environment, such as "production"
     * @param cacheFile where the SDK keeps its last flags, to serve them if the server is down at start
     * @return the running service
     * @throws IOException if the port cannot be opened
     */
    public static BillingApp start(int port, String flagServer, String sdkToken, String environment, Path cacheFile) throws IOException {
        Flags flags = Flags.builder()
                .target(flagServer)
                .plaintext()
                .sdkToken(sdkToken)
                .environment(environment)
                .cacheFile(cacheFile)
                .application("billing")   // how `flags usage` names this service
                .build();
        return start(port, flags);
    }

    /**
     * Starts the service with a given SDK instance (tests hand in one built by the test helper).
     *
     * @param port the HTTP port; 0 picks a free one
     * @param flags the SDK; closed with the service
     * @return the running service
     * @throws IOException if the port cannot be opened
     */
    public static BillingApp start(int port, Flags flags) throws IOException {
        Objects.requireNonNull(flags, "flags");
        DeploymentInfo info = Servlets.deployment()
                .setClassLoader(BillingApp.class.getClassLoader())
                .setContextPath("/")
                .setDeploymentName("billing")
                .addServlet(Servlets.servlet("checkout", CheckoutServlet.class,
                        new ImmediateInstanceFactory<>(new CheckoutServlet(flags, new LegacyBilling(), new NewBilling()))).addMapping("/checkout"))
                .addServlet(Servlets.servlet("health", HealthServlet.class,
                        new ImmediateInstanceFactory<>(new HealthServlet(flags))).addMapping("/health"));
        DeploymentManager manager = ServletContainer.Factory.newInstance().addDeployment(info);
        manager.deploy();
        try {
            Undertow http = Undertow.builder().addHttpListener(port, "127.0.0.1").setHandler(manager.start()).build();
            http.start();
            return new BillingApp(flags, http, manager);
        } catch (ServletException | RuntimeException e) {
            flags.close();
            throw new IOException("cannot start the billing service on port " + port + ": " + e.getMessage(), e);
        }
    }

    /** @return the port it listens on */
    public int port() {
        return ((InetSocketAddress) http.getListenerInfo().get(0).getAddress()).getPort();
    }

    /** @return the service's SDK instance */
    public Flags flags() {
        return flags;
    }

    /**
     * Stops the port, then the SDK. Idempotent, as {@link Flags#close()} is: a second call (a try-with-resources and a
     * shutdown hook, say) does nothing, where the servlet container's second stop throws.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        try {
            http.stop();
            deployment.stop();
            deployment.undeploy();
        } catch (ServletException e) {
            // stopping anyway
        } finally {
            flags.close(); // whatever the container threw: an SDK left open keeps reconnecting to its server
        }
    }
}
