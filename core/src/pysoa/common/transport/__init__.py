"""Transport contract (:mod:`pysoa.common.transport.base`) and transport errors."""
