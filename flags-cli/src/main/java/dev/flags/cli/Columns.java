package dev.flags.cli;

/**
 * Stateless. Lines up columns of text as a terminal shows them: a CJK character or an emoji takes two cells, a combining
 * mark or a zero-width character none. {@code String.format("%-20s")} counts UTF-16 units instead, so a column after a
 * token name or an actor written in Chinese, Japanese or Korean came out of line.
 */
final class Columns {

    /**
     * Code point ranges a terminal shows two cells wide: Unicode's East Asian Wide and Fullwidth characters, as
     * terminals' own tables (wcwidth) group them; pairs of first and last.
     */
    private static final int[] WIDE = {
        0x1100, 0x115F, // Hangul Jamo leading consonants
        0x231A, 0x231B, 0x2329, 0x232A, 0x23E9, 0x23EC, 0x23F0, 0x23F0, 0x23F3, 0x23F3, 0x25FD, 0x25FE, 0x2614, 0x2615,
        0x2648, 0x2653, 0x267F, 0x267F, 0x2693, 0x2693, 0x26A1, 0x26A1, 0x26AA, 0x26AB, 0x26BD, 0x26BE, 0x26C4, 0x26C5,
        0x26CE, 0x26CE, 0x26D4, 0x26D4, 0x26EA, 0x26EA, 0x26F2, 0x26F3, 0x26F5, 0x26F5, 0x26FA, 0x26FA, 0x26FD, 0x26FD,
        0x2705, 0x2705, 0x270A, 0x270B, 0x2728, 0x2728, 0x274C, 0x274C, 0x274E, 0x274E, 0x2753, 0x2755, 0x2757, 0x2757,
        0x2795, 0x2797, 0x27B0, 0x27B0, 0x27BF, 0x27BF, 0x2B1B, 0x2B1C, 0x2B50, 0x2B50, 0x2B55, 0x2B55,
        0x2E80, 0x303E, // CJK radicals, Kangxi, ideographic description, CJK symbols and punctuation
        0x3041, 0x33FF, // Hiragana, Katakana, Bopomofo, Hangul compatibility Jamo, Kanbun, CJK compatibility
        0x3400, 0x4DBF, // CJK extension A
        0x4E00, 0x9FFF, // CJK unified ideographs
        0xA000, 0xA4CF, // Yi
        0xA960, 0xA97F, // Hangul Jamo extended A
        0xAC00, 0xD7A3, // Hangul syllables
        0xF900, 0xFAFF, // CJK compatibility ideographs
        0xFE10, 0xFE19, 0xFE30, 0xFE6F, // vertical forms, CJK compatibility forms, small forms
        0xFF00, 0xFF60, 0xFFE0, 0xFFE6, // fullwidth forms
        0x16FE0, 0x18CFF, 0x1AFF0, 0x1B2FF, // Tangut, Khitan, kana supplements
        0x1F004, 0x1F004, 0x1F0CF, 0x1F0CF, 0x1F18E, 0x1F18E, 0x1F191, 0x1F19A, 0x1F200, 0x1F251, 0x1F260, 0x1F265,
        0x1F300, 0x1F64F, // emoji: pictographs, emoticons (those shown as text are also counted two: most terminals do)
        0x1F680, 0x1F6FF, 0x1F7E0, 0x1F7EB, 0x1F90C, 0x1F9FF, 0x1FA70, 0x1FAFF,
        0x20000, 0x2FFFD, 0x30000, 0x3FFFD, // CJK extensions B and beyond
    };

    private static final int ZERO_WIDTH_JOINER = 0x200D;
    private static final int EMOJI_PRESENTATION = 0xFE0F;
    private static final int SKIN_TONE_FIRST = 0x1F3FB;
    private static final int SKIN_TONE_LAST = 0x1F3FF;

    private Columns() {
    }

    /**
     * @return how many terminal cells {@code text} takes. An emoji sequence counts as the one picture terminals draw:
     *     a skin tone adds nothing, the parts joined by a zero width joiner after the first add nothing, and the emoji
     *     variation selector (U+FE0F) makes a narrow symbol such as U+2764 two cells wide.
     */
    static int width(String text) {
        int cells = 0;
        int last = 0; // the cells of the last character counted
        boolean joined = false;
        for (int i = 0; i < text.length(); ) {
            int c = text.codePointAt(i);
            i += Character.charCount(c);
            if (c == ZERO_WIDTH_JOINER) {
                joined = true;
                continue;
            }
            if (c == EMOJI_PRESENTATION && last == 1) {
                cells++;
                last = 2;
                continue;
            }
            if ((c >= SKIN_TONE_FIRST && c <= SKIN_TONE_LAST) || (joined && last == 2)) {
                joined = false;
                continue;
            }
            joined = false;
            int width = cells(c);
            cells += width;
            if (width > 0) {
                last = width;
            }
        }
        return cells;
    }

    /** @return {@code text} followed by spaces up to {@code width} cells (as it is, if it is as wide or wider) */
    static String pad(String text, int width) {
        int missing = width - width(text);
        return missing <= 0 ? text : text + " ".repeat(missing);
    }

    private static int cells(int c) {
        int type = Character.getType(c);
        if (type == Character.NON_SPACING_MARK || type == Character.ENCLOSING_MARK || type == Character.FORMAT
                || c == 0x200B || (c >= 0x1160 && c <= 0x11FF)) { // zero width space; Hangul medial vowels, final consonants
            return 0;
        }
        return isWide(c) ? 2 : 1;
    }

    private static boolean isWide(int c) {
        if (c < WIDE[0]) {
            return false;
        }
        for (int i = 0; i < WIDE.length; i += 2) {
            if (c < WIDE[i]) {
                return false;
            }
            if (c <= WIDE[i + 1]) {
                return true;
            }
        }
        return false;
    }
}
