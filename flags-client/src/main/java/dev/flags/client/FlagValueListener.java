package dev.flags.client;

/**
 * Thread-safe (it must be, as a {@link FlagChangeListener}). Told when the answer one user gets from one flag changed:
 * registered with {@link Flags#addValueListener}.
 *
 * <pre>{@code
 * User service = User.withId("svc-billing").region("eu-west");
 * flags.addValueListener("billing-v2", service, event -> billing.switchTo(event.newValue().value()));
 * }</pre>
 */
@FunctionalInterface
public interface FlagValueListener {

    /**
     * Called after the user's answer changed, on the thread a {@link FlagChangeListener} would be called on.
     *
     * @param event the flag, the user, and the answer before and after; never null
     */
    void onValueChange(FlagValueChangeEvent event);
}
