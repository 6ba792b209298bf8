"""The symbolic core: expressions, the op table, the algebra that simplifies as it builds.

Importing the package files every op rule into `table.OPS` (the rules in `ops`
use the algebra, and the algebra looks rules up in the table, so the table is
filled once, here, before anything is built) and lets `repr` of an expression
print it.
"""

from gradcheck_cli.symbolic import ops as _ops  # noqa: F401  (fills table.OPS)
from gradcheck_cli.symbolic import printing as _printing  # noqa: F401  (repr of expressions)
