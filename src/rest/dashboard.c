/* The web dashboard's embedded files (rest layer); see dashboard.h. */
#include "rest/dashboard.h"

#include <string.h>

int dashboard_asset(const char *path, const dashboard_file **out)
{
    const char *name;
    if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0)
        name = "index.html";
    else if (strncmp(path, "/assets/", 8) == 0 && path[8] && !strchr(path + 8, '/'))
        name = path + 8;
    else
        return -1;
    for (size_t i = 0; i < dashboard_nfiles; i++)
        if (strcmp(dashboard_files[i].name, name) == 0) {
            *out = &dashboard_files[i];
            return 0;
        }
    return -1;
}
