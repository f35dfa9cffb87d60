"""Hypothesis entry point: ``st.from_type(LaunchSpec)`` draws launch specs."""


def _hypothesis_setup_hook() -> None:
    from hypothesis import strategies as st

    from simdist import LaunchSpec

    def _launch_specs(_type):
        from simdist.testing.strategies import launch_specs

        return launch_specs()

    st.register_type_strategy(LaunchSpec, st.deferred(lambda: _launch_specs(LaunchSpec)))
