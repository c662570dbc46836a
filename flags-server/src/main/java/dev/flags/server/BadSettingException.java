package dev.flags.server;

import java.util.Objects;

/**
 * Immutable. A setting of {@link ServerConfig}, {@link ApiLimits} or {@link UsageSettings} that is wrong, and which one, so
 * that the command line can name the option or environment variable it came from.
 */
public final class BadSettingException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    /** The setting: a component of {@link ServerConfig}, {@link ApiLimits} or {@link UsageSettings}, such as {@code httpPort}. */
    private final String setting;

    /**
     * @param setting the component of {@link ServerConfig}, {@link ApiLimits} or {@link UsageSettings} that is wrong, such as
     *                {@code httpPort}
     * @param message what is wrong, and the value
     */
    public BadSettingException(String setting, String message) {
        super(message);
        this.setting = Objects.requireNonNull(setting, "setting");
    }

    /** @return the component of {@link ServerConfig}, {@link ApiLimits} or {@link UsageSettings} that is wrong, such as {@code httpPort} */
    public String setting() {
        return setting;
    }
}
