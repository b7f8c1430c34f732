/* The built-in sample text (`builtin:sample`), so the main job runs with
 * no input file. Written for mpiflow. */
#include <stddef.h>

const char mpf_sample_text[] =
    "The river does not wait for the bridge to be finished.\n"
    "It carries leaves and light and the small stones of the hills,\n"
    "and every stone is counted by the sea, though the sea keeps no book.\n"
    "A stream is a story told one word at a time;\n"
    "you cannot read the end before the end arrives,\n"
    "so you keep a tally as the words go by and trust the tally.\n"
    "Count the words, count the stones, count the hours of the night:\n"
    "the counting is the work, and the work is never quite done.\n"
    "On the cluster the ranks wake up together and agree on who is first.\n"
    "Rank zero keeps the plan; the others keep the records moving.\n"
    "Each one takes a slice of the river and hands the rest along,\n"
    "and when the water reaches the sea the totals are the same\n"
    "as if one patient clerk had counted every drop alone.\n"
    "Slow water backs up behind a slow gate, and that is no failure:\n"
    "it is how a river tells the hills to wait.\n"
    "Keep the buffers small, keep the tallies honest,\n"
    "write the result under a quiet name and rename it only when it is whole.\n"
    "Then the morning comes, the job is done, and the sea is counted.\n";

const size_t mpf_sample_text_len = sizeof mpf_sample_text - 1;
