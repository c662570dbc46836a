package dev.flags.core;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Thread-safe. Whether a flag answered true, and whether it answered false, since its marks were last
 * taken: what an SDK reports so that people learn which flags the code still asks for.
 *
 * <p>Whether, not how often: a mark is set once per period, so an evaluation reads one field of an
 * object it already holds and writes nothing once the mark is set (a counter would be a write to a
 * shared cache line on every call, from every thread). The marks outlive a change of the flag: the
 * compiled flag of the new version gets the old one's marks.
 *
 * <p>Opaque access: a mark needs no ordering with anything else, only to be seen by the thread that
 * takes it, eventually; and the evaluation path must not pay for a fence.
 */
final class UsageMarks {

    private static final VarHandle SERVED_TRUE;
    private static final VarHandle SERVED_FALSE;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            SERVED_TRUE = lookup.findVarHandle(UsageMarks.class, "servedTrue", boolean.class);
            SERVED_FALSE = lookup.findVarHandle(UsageMarks.class, "servedFalse", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // through SERVED_TRUE
    private boolean servedTrue;
    @SuppressWarnings("unused") // through SERVED_FALSE
    private boolean servedFalse;

    /**
     * Marks an answer. Read before written: once set, a mark costs every later call one read. (Each
     * VarHandle is named where it is used: the JIT makes a constant one a plain load or store, a chosen
     * one a call.)
     */
    void mark(boolean value) {
        if (value) {
            if (!(boolean) SERVED_TRUE.getOpaque(this)) {
                SERVED_TRUE.setOpaque(this, true);
            }
        } else if (!(boolean) SERVED_FALSE.getOpaque(this)) {
            SERVED_FALSE.setOpaque(this, true);
        }
    }

    /**
     * Takes the marks and clears them. A mark set while this runs is either taken now or left for the
     * next take: never lost. A mark not set is not written (a flag not evaluated keeps its line shared).
     *
     * @return {@link #TRUE} and/or {@link #FALSE} bits; 0 if the flag was not evaluated
     */
    int take() {
        int bits = 0;
        if ((boolean) SERVED_TRUE.getOpaque(this) && (boolean) SERVED_TRUE.getAndSet(this, false)) {
            bits |= TRUE;
        }
        if ((boolean) SERVED_FALSE.getOpaque(this) && (boolean) SERVED_FALSE.getAndSet(this, false)) {
            bits |= FALSE;
        }
        return bits;
    }

    /** The bit of {@link #take()} for "answered true". */
    static final int TRUE = 1;
    /** The bit of {@link #take()} for "answered false". */
    static final int FALSE = 2;
}
