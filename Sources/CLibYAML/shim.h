#ifndef BATCHCTL_CLIBYAML_SHIM_H
#define BATCHCTL_CLIBYAML_SHIM_H
/* libyaml (Debian: libyaml-dev to build, libyaml-0-2 at run time): the YAML 1.1 parser batchctl composes
   its own node tree from (Sources/YAML). */
#include <yaml.h>
#endif
