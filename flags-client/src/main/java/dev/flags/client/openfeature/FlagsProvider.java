package dev.flags.client.openfeature;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.flags.client.FlagChangeEvent;
import dev.flags.client.FlagChangeListener;
import dev.flags.client.FlagEvaluation;
import dev.flags.client.Flags;
import dev.flags.client.Freshness;
import dev.flags.client.Source;
import dev.flags.client.StatusListener;
import dev.flags.core.User;
import dev.openfeature.sdk.ErrorCode;
import dev.openfeature.sdk.EvaluationContext;
import dev.openfeature.sdk.EventProvider;
import dev.openfeature.sdk.ImmutableMetadata;
import dev.openfeature.sdk.ImmutableStructure;
import dev.openfeature.sdk.Metadata;
import dev.openfeature.sdk.ProviderEvaluation;
import dev.openfeature.sdk.ProviderEvent;
import dev.openfeature.sdk.ProviderEventDetails;
import dev.openfeature.sdk.Reason;
import dev.openfeature.sdk.Value;
import dev.openfeature.sdk.exceptions.FatalError;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Thread-safe. An OpenFeature provider backed by a {@link Flags}: applications written against
 * OpenFeature evaluate our flags with one line.
 *
 * <pre>{@code
 * Flags flags = Flags.builder().target("flags.internal:9090").sdkToken(token).environment("production").build();
 * OpenFeatureAPI.getInstance().setProviderAndWait(FlagsProvider.owning(flags));
 * Client client = OpenFeatureAPI.getInstance().getClient();
 * boolean on = client.getBooleanValue("billing-v2", false,
 *     new ImmutableContext("u-42", Map.of("roles", new Value(List.of(new Value("beta-tester"))),
 *                                         "region", new Value("eu-west"))));
 * }</pre>
 *
 * <p><b>Context.</b> The targeting key is the user's id (none: an anonymous user); {@code "roles"}
 * (a list of strings, or one comma-separated string) the user's roles; {@code "region"} the region;
 * every other string, number, boolean or instant an attribute of that name. Structures and lists
 * under other names are ignored. A value the user model refuses (a role of more than 1,024 characters,
 * say) gives the default with {@code INVALID_CONTEXT}; an empty region or role is none.
 *
 * <p><b>Types.</b> Our flags are on/off, and an on flag may serve a variant with a payload.
 * {@code boolean}: on or off. {@code string}: the served variant's payload, or its key if it has
 * none. {@code double}: the payload as a JSON number; {@code integer}: as a whole number in digits, within
 * {@code int}'s range ({@code 1e3} and {@code 0.5} are not). {@code object}: the payload as
 * JSON. A flag that is off for the user is {@code false} for {@code boolean} (a kill switch is off, whatever the
 * caller's default), and the caller's default for the other types, with the reason that made it off.
 * A flag without variants asked for a string, or a payload that is not a number, is
 * {@code TYPE_MISMATCH}; a payload that is not JSON for an object is {@code PARSE_ERROR}.
 *
 * <p><b>Reasons.</b> Off for everyone: {@code DISABLED}; a target or rule matched:
 * {@code TARGETING_MATCH}; nothing matched: {@code DEFAULT}; served from a stale copy while the
 * server is unreachable: {@code STALE}; from the cache file before the first sync: {@code CACHED};
 * unknown flag: {@code ERROR} with {@code FLAG_NOT_FOUND}; no flags at all yet: {@code ERROR} with
 * {@code PROVIDER_NOT_READY}; a rule that failed: {@code ERROR} with {@code GENERAL}. Flag metadata
 * carries {@code flagVersion}, {@code version} (of the whole set), {@code source}, {@code flagsReason}, and where
 * there is one the matching rule's {@code ruleIndex} and {@code ruleName}, the matching target's {@code targetIndex},
 * and the reason's {@code detail}.
 *
 * <p><b>Events.</b> Each flag change is emitted as {@code PROVIDER_CONFIGURATION_CHANGED} with the
 * flag's key, and event metadata {@code change} ({@code ADDED}, {@code UPDATED}, {@code REMOVED}),
 * {@code source} and {@code version}. The SDK's state ({@link Flags#addStatusListener}) is emitted as provider status events,
 * each only when the status changes: {@code PROVIDER_READY} when the flags are live (or come from an
 * offline file or {@code TestFlags}); {@code PROVIDER_STALE} when the stream to the server is lost,
 * and while the cache file is served before the first sync; {@code PROVIDER_ERROR} with
 * {@code PROVIDER_NOT_READY} while there are no flags at all (evaluations still answer the caller's
 * default), and with {@code GENERAL} while the flag server refuses the SDK's token or environment
 * (whatever is served meanwhile). Event metadata carries {@code source} and {@code version}.
 *
 * <p><b>Initialization.</b> {@link #initialize} returns at once, without waiting for the first sync
 * (call {@link Flags#awaitReady} first to do that). OpenFeature then marks the provider ready; if the
 * SDK is not live yet, the matching {@code PROVIDER_STALE} or {@code PROVIDER_ERROR} follows at once,
 * and {@code PROVIDER_READY} when the first sync happens. Until then answers come from the cache file
 * or are defaults, and their reasons say so. With {@code setProviderAndWait} OpenFeature's state ends
 * as the SDK's (the provider's first event waits for the lock that call holds while it marks the
 * provider ready), though handlers may hear the two events in either order; with the asynchronous
 * {@code setProvider} OpenFeature may report {@code READY} until the SDK's next status change:
 * docs/client.md, "Initialization".
 */
public final class FlagsProvider extends EventProvider {

    private static final Metadata METADATA = () -> "flags";
    /** Strict: a payload is one JSON value, nothing after it ({@code {"a":1} trailing} is no payload). */
    private static final JsonMapper JSON = JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();

    private final Flags flags;
    private final boolean owning;
    private final FlagChangeListener listener = this::changed;
    private final StatusListener statusListener = this::statusChanged;
    /** The provider status OpenFeature last heard of from us (or assumes); guarded by {@code this}. */
    private ProviderEvent status;
    /** Whether that status said the server refuses the SDK; guarded by {@code this}. */
    private boolean statusRefused;
    /** Guards {@link #registrations} and the listeners' (de)registration; never taken by a listener. */
    private final Object registration = new Object();
    /**
     * How many of OpenFeature's registrations initialized this provider and have not shut it down yet. OpenFeature
     * shuts a replaced provider down on a thread of its own, later: set again meanwhile, the provider is initialized
     * again before the old registration's shutdown comes, which must then leave it running.
     */
    private int registrations;
    /**
     * Whether this provider owned its flags and closed them at its last shutdown; guarded by {@link #registration}. Set
     * again after that, it would call a closed {@code Flags} ready: frozen answers, and no events, silently.
     */
    private boolean flagsClosed;

    private FlagsProvider(Flags flags, boolean owning) {
        this.flags = Objects.requireNonNull(flags, "flags");
        this.owning = owning;
    }

    /**
     * A provider over flags the application keeps and closes itself.
     *
     * @param flags the flags
     * @return a new provider; its shutdown leaves the flags open
     * @throws NullPointerException if {@code flags} is null
     */
    public static FlagsProvider of(Flags flags) {
        return new FlagsProvider(flags, false);
    }

    /**
     * A provider that owns its flags: OpenFeature's shutdown of the provider closes them, and after that the provider
     * cannot be set again ({@link #initialize} refuses it).
     *
     * @param flags the flags
     * @return a new provider
     * @throws NullPointerException if {@code flags} is null
     */
    public static FlagsProvider owning(Flags flags) {
        return new FlagsProvider(flags, true);
    }

    /** @return the provider's name, {@code "flags"} */
    @Override
    public Metadata getMetadata() {
        return METADATA;
    }

    /**
     * Starts emitting change and status events. Returns at once: does not wait for the first sync (see
     * the class comment for the events that follow).
     *
     * @param context OpenFeature's global context (not used)
     * @throws FatalError if this provider owned its flags and closed them at its shutdown ({@link #owning}): such a
     *         provider cannot be set again (OpenFeature then marks it {@code FATAL}, and {@code setProviderAndWait} throws)
     */
    @Override
    public void initialize(EvaluationContext context) {
        synchronized (registration) {
            if (flagsClosed) {
                // Set again after its shutdown closed its flags: they answer from their last copy, frozen, and emit nothing.
                throw new FatalError("this FlagsProvider owned its Flags and closed them at its shutdown, so it cannot be"
                        + " set again: make a new Flags and FlagsProvider.owning(it), or use FlagsProvider.of(flags) for a"
                        + " provider that may be set again");
            }
        }
        synchronized (this) {
            status = ProviderEvent.PROVIDER_READY; // what OpenFeature assumes once this returns
        }
        synchronized (registration) {
            registrations++;
            flags.removeListener(listener); // initialized twice: still one registration
            flags.addListener(listener);
            flags.removeStatusListener(statusListener);
            flags.addStatusListener(statusListener); // called with the current state, then on each change
        }
    }

    /**
     * Stops emitting events, and closes the flags if this provider owns them. A provider over flags the application
     * keeps ({@link #of}) may be set again afterwards, and emits again once initialized. OpenFeature shuts a replaced
     * provider down later, on a thread of its own: the shutdown of a registration that a newer one has followed (the
     * provider set again meanwhile) does nothing.
     */
    @Override
    public void shutdown() {
        synchronized (registration) {
            if (registrations > 1) {
                registrations--; // the shutdown of a registration that a newer one follows: it goes on emitting
                return;
            }
            registrations = 0;
            flags.removeListener(listener);
            flags.removeStatusListener(statusListener);
            if (owning) {
                flagsClosed = true;
                flags.close();
                super.shutdown(); // OpenFeature's event executor, for good: the flags are gone with it
            }
        }
        // Not owning: OpenFeature shuts a provider down whenever another replaces it, and the application may set this
        // one again; with its event executor shut for good, it would have emitted nothing more, silently (QA70 F3).
        // The executor's idle threads end on their own.
    }

    private void changed(FlagChangeEvent event) {
        emitProviderConfigurationChanged(ProviderEventDetails.builder()
                .flagsChanged(List.of(event.flagKey()))
                .message("flag \"" + event.flagKey() + "\" " + event.change().name().toLowerCase(Locale.ROOT)
                        + " at version " + event.version())
                .eventMetadata(ImmutableMetadata.builder()
                        .addString("change", event.change().name())
                        .addString("source", event.source().name())
                        .addLong("version", event.version())
                        .build())
                .build());
    }

    /** Emits the provider status of the SDK's new state, if it differs from the one last emitted. */
    private synchronized void statusChanged(Freshness f) {
        ProviderEvent event = f.refused() ? ProviderEvent.PROVIDER_ERROR : switch (f.source()) {
            case LIVE, IN_MEMORY -> ProviderEvent.PROVIDER_READY;
            // A watched file gone bad (invalid, removed, no longer watched): the last good flags, no longer followed.
            case OFFLINE_FILE -> f.problem().isPresent() ? ProviderEvent.PROVIDER_STALE : ProviderEvent.PROVIDER_READY;
            case STALE, CACHE_FILE -> ProviderEvent.PROVIDER_STALE;
            case DEFAULTS -> ProviderEvent.PROVIDER_ERROR;
        };
        if (event == status && f.refused() == statusRefused) {
            return;
        }
        status = event;
        statusRefused = f.refused();
        String message = switch (f.source()) {
            case LIVE -> "live at version " + f.version();
            case OFFLINE_FILE -> "offline file at version " + f.version();
            case IN_MEMORY -> "in memory at version " + f.version();
            case STALE -> "stale: version " + f.version() + " from memory, the stream to the flag server is down";
            case CACHE_FILE -> "cache file at version " + f.version() + (f.refused() ? "" : ", the flag server has not been reached yet");
            case DEFAULTS -> "no flags yet";
        } + (f.refused() ? "; the flag server refuses this SDK" : "") // the problem that follows says why, and what to do
                + f.problem().map(p -> " (" + p + ")").orElse("");
        ProviderEventDetails.ProviderEventDetailsBuilder<?, ?> details = ProviderEventDetails.builder()
                .message(message)
                .eventMetadata(ImmutableMetadata.builder()
                        .addString("source", f.source().name())
                        .addLong("version", f.version())
                        .build());
        if (event == ProviderEvent.PROVIDER_ERROR) {
            // Refused: a configuration error the SDK keeps retrying (not fatal: a token can be fixed).
            details.errorCode(f.refused() ? ErrorCode.GENERAL : ErrorCode.PROVIDER_NOT_READY);
        }
        emit(event, details.build());
    }

    // ---------------------------------------------------------------- evaluations

    /**
     * Evaluates an on/off flag.
     *
     * @param key the flag's key
     * @param defaultValue the answer for an unknown flag or an error
     * @param ctx the evaluation context
     * @return the answer with OpenFeature's reason and error code
     */
    @Override
    public ProviderEvaluation<Boolean> getBooleanEvaluation(String key, Boolean defaultValue, EvaluationContext ctx) {
        Boolean fallback = defaultValue != null && defaultValue;
        return resolve(key, defaultValue, ctx, fallback, e -> new Typed<>(e.value(), null, null));
    }

    /**
     * Evaluates an A/B flag as a string: the variant's payload, or its key.
     *
     * @param key the flag's key
     * @param defaultValue the answer when the flag is off for the user, unknown, or an error
     * @param ctx the evaluation context
     * @return the answer with OpenFeature's reason and error code
     */
    @Override
    public ProviderEvaluation<String> getStringEvaluation(String key, String defaultValue, EvaluationContext ctx) {
        return resolve(key, defaultValue, ctx, null, e -> {
            if (e.variant() == null) {
                return mismatch("flag \"" + key + "\" has no variants; evaluate it as a boolean");
            }
            return new Typed<>(e.payload() != null ? e.payload() : e.variant(), null, null);
        });
    }

    /**
     * Evaluates an A/B flag as an integer: the served variant's payload.
     *
     * @param key the flag's key
     * @param defaultValue the answer when the flag is off for the user, unknown, or an error
     * @param ctx the evaluation context
     * @return the answer with OpenFeature's reason and error code
     */
    @Override
    public ProviderEvaluation<Integer> getIntegerEvaluation(String key, Integer defaultValue, EvaluationContext ctx) {
        return resolve(key, defaultValue, ctx, null, e -> {
            Typed<Integer> number = number(key, e, "an integer", p -> Integer.valueOf(digitsOnly(p.trim(), WHOLE_NUMBER)));
            if (number.error() != null && e.payload() != null && WHOLE_NUMBER.matcher(e.payload().trim()).matches()) {
                // 1700000000000, epoch milliseconds say: a whole number, just not one an int holds
                return mismatch("the payload of variant \"" + e.variant() + "\" of flag \"" + key + "\" is a whole number"
                        + " beyond what an integer holds (-2147483648 to 2147483647), was \"" + e.payload() + "\": evaluate it"
                        + " as a double");
            }
            return number;
        });
    }

    /**
     * Evaluates an A/B flag as a double: the served variant's payload.
     *
     * @param key the flag's key
     * @param defaultValue the answer when the flag is off for the user, unknown, or an error
     * @param ctx the evaluation context
     * @return the answer with OpenFeature's reason and error code
     */
    @Override
    public ProviderEvaluation<Double> getDoubleEvaluation(String key, Double defaultValue, EvaluationContext ctx) {
        return resolve(key, defaultValue, ctx, null, e -> {
            // JSON's numbers only: Java's own syntax (12d, 0x1p4, NaN, Infinity) is no number to the other evaluations
            Typed<Double> number = number(key, e, "a number", p -> Double.parseDouble(digitsOnly(p.trim(), NUMERAL)));
            if (number.value() == null || Double.isFinite(number.value())) {
                return number;
            }
            // 1e400: a number, but none a double holds
            return new Typed<>(null, ErrorCode.PARSE_ERROR, "the payload of variant \"" + e.variant() + "\" of flag \""
                    + key + "\" holds a number beyond what a double holds (about 1.8e308)");
        });
    }

    /**
     * Evaluates an A/B flag as a structure: the served variant's payload, read as JSON.
     *
     * @param key the flag's key
     * @param defaultValue the answer when the flag is off for the user, unknown, or an error
     * @param ctx the evaluation context
     * @return the answer with OpenFeature's reason and error code
     */
    @Override
    public ProviderEvaluation<Value> getObjectEvaluation(String key, Value defaultValue, EvaluationContext ctx) {
        return resolve(key, defaultValue, ctx, null, e -> {
            if (e.variant() == null) {
                return mismatch("flag \"" + key + "\" has no variants; evaluate it as a boolean");
            }
            if (e.payload() == null) {
                return mismatch("variant \"" + e.variant() + "\" of flag \"" + key + "\" has no payload");
            }
            try {
                JsonNode payload = JSON.readTree(e.payload());
                if (payload.isMissingNode()) { // what Jackson reads from nothing, or from white space alone
                    return new Typed<>(null, ErrorCode.PARSE_ERROR, "the payload of variant \"" + e.variant() + "\" of flag \""
                            + key + "\" is not JSON: it is empty");
                }
                return new Typed<>(toValue(payload), null, null);
            } catch (NonFiniteNumber ex) {
                return new Typed<>(null, ErrorCode.PARSE_ERROR, "the payload of variant \"" + e.variant() + "\" of flag \""
                        + key + "\" holds a number beyond what a double holds (about 1.8e308)");
            } catch (JsonProcessingException ex) {
                return new Typed<>(null, ErrorCode.PARSE_ERROR, "the payload of variant \"" + e.variant() + "\" of flag \""
                        + key + "\" is not JSON: " + ex.getOriginalMessage());
            }
        });
    }

    /** A number in a payload that no double holds ({@code 1e400}): the payload cannot be given as a value. */
    private static final class NonFiniteNumber extends RuntimeException {
        private static final long serialVersionUID = 1L;

        NonFiniteNumber() {
            super(null, null, false, false);
        }
    }

    /**
     * The text if it is a number in the syntax given, or a NumberFormatException: Java's parsers also take other
     * scripts' digits ("٣" is 3 to Integer.valueOf) and Java literals ("12d"), so the integer and double evaluations
     * disagreed with each other and with the object evaluation's JSON on what a number is (QA70 F4).
     */
    private static String digitsOnly(String text, java.util.regex.Pattern syntax) {
        if (!syntax.matcher(text).matches()) {
            throw new NumberFormatException(text);
        }
        return text;
    }

    /** A whole number as JSON writes it: ASCII digits, a minus sign or none, no leading zero. */
    private static final java.util.regex.Pattern WHOLE_NUMBER = java.util.regex.Pattern.compile("-?(0|[1-9][0-9]*)");

    /** A JSON number's syntax, sign and exponent included. */
    private static final java.util.regex.Pattern NUMERAL = java.util.regex.Pattern.compile("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?");

    /** A typed answer, or an error code with a message. */
    private record Typed<T>(T value, ErrorCode error, String message) {
    }

    private static <T> Typed<T> mismatch(String message) {
        return new Typed<>(null, ErrorCode.TYPE_MISMATCH, message);
    }

    private static <T> Typed<T> number(String key, FlagEvaluation e, String what, Function<String, T> parse) {
        if (e.variant() == null) {
            return mismatch("flag \"" + key + "\" has no variants; evaluate it as a boolean");
        }
        if (e.payload() == null) {
            return mismatch("variant \"" + e.variant() + "\" of flag \"" + key + "\" has no payload; " + what
                    + " evaluation needs a numeric payload");
        }
        try {
            return new Typed<>(parse.apply(e.payload()), null, null);
        } catch (NumberFormatException ex) {
            return mismatch("the payload of variant \"" + e.variant() + "\" of flag \"" + key + "\" is not " + what
                    + ", was \"" + e.payload() + "\"");
        }
    }

    /**
     * The common path: map the context, evaluate, turn our reason into OpenFeature's, and for non-boolean
     * types take the value from the served variant only when the flag is on for the user.
     */
    private <T> ProviderEvaluation<T> resolve(String key, T defaultValue, EvaluationContext ctx, Boolean booleanDefault,
                                              Function<FlagEvaluation, Typed<T>> typed) {
        User user;
        try {
            user = toUser(ctx);
        } catch (IllegalArgumentException | NullPointerException e) {
            return ProviderEvaluation.<T>builder().value(defaultValue).reason(Reason.ERROR.name())
                    .errorCode(ErrorCode.INVALID_CONTEXT).errorMessage(e.getMessage()).build();
        }
        FlagEvaluation e = flags.evaluate(key, user, booleanDefault != null && booleanDefault);
        ImmutableMetadata metadata = metadata(e);
        Supplier<ProviderEvaluation.ProviderEvaluationBuilder<T, ?, ?>> error = () -> ProviderEvaluation.<T>builder()
                .value(defaultValue).reason(Reason.ERROR.name()).flagMetadata(metadata);
        if (e.source() == Source.DEFAULTS) {
            return error.get().errorCode(ErrorCode.PROVIDER_NOT_READY).errorMessage(e.reason().detail()).build();
        }
        switch (e.reason().kind()) {
            case FLAG_NOT_FOUND:
                return error.get().errorCode(ErrorCode.FLAG_NOT_FOUND)
                        .errorMessage("no flag \"" + key + "\"").build();
            case ERROR:
                return error.get().errorCode(ErrorCode.GENERAL).errorMessage(e.reason().detail()).build();
            default:
                break;
        }
        String reason = reason(e);
        if (!e.value() && booleanDefault == null) {
            // Off for this user, asked for a non-boolean: the caller's default, with the reason that made it off.
            return ProviderEvaluation.<T>builder().value(defaultValue).reason(reason).flagMetadata(metadata).build();
        }
        Typed<T> t = typed.apply(e);
        if (t.error() != null) {
            return error.get().errorCode(t.error()).errorMessage(t.message()).build();
        }
        return ProviderEvaluation.<T>builder().value(t.value()).variant(e.variant()).reason(reason)
                .flagMetadata(metadata).build();
    }

    private static String reason(FlagEvaluation e) {
        if (e.source() == Source.STALE) {
            return "STALE"; // in the OpenFeature specification; the Java SDK's enum lacks it
        }
        if (e.source() == Source.CACHE_FILE) {
            return Reason.CACHED.name();
        }
        return switch (e.reason().kind()) {
            case FLAG_OFF -> Reason.DISABLED.name();
            case TARGET_MATCH, RULE_MATCH -> Reason.TARGETING_MATCH.name();
            case DEFAULT -> Reason.DEFAULT.name();
            default -> Reason.UNKNOWN.name();
        };
    }

    private static ImmutableMetadata metadata(FlagEvaluation e) {
        ImmutableMetadata.ImmutableMetadataBuilder b = ImmutableMetadata.builder()
                .addLong("flagVersion", e.flagVersion())
                .addLong("version", e.version())
                .addString("source", e.source().name())
                .addString("flagsReason", e.reason().kind().name());
        if (e.reason().ruleIndex() >= 0) {
            // The index is a target's for a target match: a key of its own, so that nothing that groups by rule puts
            // targeted users under the rule of the same index.
            b.addInteger(e.reason().kind() == dev.flags.core.Reason.Kind.TARGET_MATCH ? "targetIndex" : "ruleIndex",
                    e.reason().ruleIndex());
        }
        if (e.reason().ruleName() != null) {
            b.addString("ruleName", e.reason().ruleName());
        }
        if (e.reason().detail() != null) {
            b.addString("detail", e.reason().detail());
        }
        return b.build();
    }

    // ---------------------------------------------------------------- context and values

    /**
     * Maps an OpenFeature context to our user: targeting key to id, "roles", "region", the rest to
     * attributes.
     *
     * @param ctx the context; null gives the anonymous user
     * @return the user
     * @throws IllegalArgumentException if a value is one the user model refuses
     */
    static User toUser(EvaluationContext ctx) {
        if (ctx == null) {
            return User.anonymous();
        }
        String id = ctx.getTargetingKey();
        User user = id == null || id.isEmpty() ? User.anonymous() : User.withId(id);
        for (String name : ctx.keySet()) {
            if (EvaluationContext.TARGETING_KEY.equals(name)) {
                continue;
            }
            Value v = ctx.getValue(name);
            if (v == null || v.isNull()) {
                continue;
            }
            switch (name) {
                case "roles" -> user = user.roles(roles(v));
                case "region" -> {
                    if (!v.isString()) {
                        throw new IllegalArgumentException("context \"region\" must be a string, was " + v);
                    }
                    user = user.region(v.asString());
                }
                default -> {
                    if (v.isBoolean()) {
                        user = user.attribute(name, v.asBoolean().booleanValue());
                    } else if (v.isNumber() && (v.asObject() instanceof Integer || v.asObject() instanceof Long
                            || v.asObject() instanceof Short || v.asObject() instanceof Byte)) {
                        user = user.attribute(name, ((Number) v.asObject()).longValue()); // whole, kept whole: a 64-bit id
                    } else if (v.isNumber()) {
                        user = user.attribute(name, v.asDouble().doubleValue());
                    } else if (v.isString()) {
                        user = user.attribute(name, v.asString());
                    } else if (v.isInstant()) {
                        user = user.attribute(name, v.asInstant());
                    }
                    // Structures and lists have no place in the user model: ignored.
                }
            }
        }
        return user;
    }

    private static String[] roles(Value v) {
        List<String> roles = new ArrayList<>();
        if (v.isString()) {
            for (String r : v.asString().split(",")) {
                if (!r.isBlank()) {
                    roles.add(r.trim());
                }
            }
        } else if (v.isList()) {
            for (Value r : v.asList()) {
                if (r == null || r.isNull()) {
                    continue; // none, as a null role is for User.roles
                }
                if (!r.isString()) {
                    throw new IllegalArgumentException("context \"roles\" must hold strings, had " + r);
                }
                roles.add(r.asString());
            }
        } else {
            throw new IllegalArgumentException("context \"roles\" must be a list of strings or a comma-separated"
                    + " string, was " + v);
        }
        return roles.toArray(String[]::new);
    }

    private static Value toValue(JsonNode node) {
        if (node == null || node.isNull() || node.isMissingNode()) {
            return new Value();
        }
        if (node.isObject()) {
            Map<String, Value> map = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> f : node.properties()) {
                map.put(f.getKey(), toValue(f.getValue()));
            }
            return new Value(new ImmutableStructure(map));
        }
        if (node.isArray()) {
            List<Value> list = new ArrayList<>();
            node.forEach(n -> list.add(toValue(n)));
            return new Value(list);
        }
        if (node.isBoolean()) {
            return new Value(node.booleanValue());
        }
        if (node.isIntegralNumber() && node.canConvertToInt()) {
            return new Value(node.intValue());
        }
        // OpenFeature's numbers are Integer and Double: a Long would read as a wrapped-around asInteger() and fail
        // asObjectMap(). Larger integers (epoch milliseconds, ids) come as doubles, exact up to 2^53.
        if (node.isNumber()) {
            double d = node.doubleValue();
            if (!Double.isFinite(d)) { // as a double evaluation refuses it: no Infinity in place of a number
                throw new NonFiniteNumber();
            }
            return new Value(d);
        }
        return new Value(node.asText());
    }
}
